"""Finding and loading demucs weights: the models folder, then demucs' caches, then a download.

Demucs 4.1 downloads a model on first use (HuggingFace hub, then dl.fbaipublicfiles.com) and
dies with a bare ``URLError`` after ~25 s of DNS retries when offline. A studio server must
instead say at once what will work. :func:`find_weights` looks, without touching the network,
in this order:

1. ``models_dir`` (``<data>/models``, demucs' ``--repo`` layout): ``NAME.th`` /
   ``NAME-CHECKSUM.th`` / ``NAME.safetensors`` for a single model, or ``NAME.yaml`` listing
   signatures; a published bag (``htdemucs`` = signature ``955717e8``) also works with only
   its signature files dropped there, using demucs' bundled bag definition;
2. torch hub's checkpoint folder, where demucs' legacy downloads land;
3. the HuggingFace cache, where demucs 4.1's own downloads land.

:func:`load_demucs` loads what was found, or downloads through demucs when downloads are
allowed and the network answers; otherwise it raises
:class:`~soundforge.audio.errors.EngineUnavailable` in one sentence naming the embedded
engine, within milliseconds when ``HF_HUB_OFFLINE=1`` and within ~3 s otherwise.

Weight files are loaded with pickle (``torch.load(weights_only=False)``, as demucs does):
only put files you trust in the models folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.separation.options import EMBEDDED_MODEL

__all__ = [
    "FoundWeights",
    "WeightsDownloadFailed",
    "find_weights",
    "load_demucs",
    "local_model_names",
    "offline_reason",
    "read_sources",
]

logger = logging.getLogger(__name__)

_HF_NAMESPACE: Final = "adefossez"
_PROBE_HOST: Final = "huggingface.co"
_PROBE_TIMEOUT: Final = 3.0
_INSTEAD: Final = f"use the engine 'default' ({EMBEDDED_MODEL}), which needs no download"


class WeightsDownloadFailed(EngineUnavailable):
    """Demucs weights could not be downloaded (network or server trouble); may work later."""

    retryable = True


class FoundWeights(msgspec.Struct, frozen=True, kw_only=True):
    """Where a model's weight files are: one file per network of the bag.

    ``where`` is the first place searched that held them; ``bag_weights`` and ``segment``
    come from the bag definition (None for a single model file).
    """

    name: str
    where: Literal["models_dir", "torch_hub", "hf_cache"]
    files: tuple[str, ...]
    is_bag: bool
    bag_weights: list[list[float]] | None = None
    segment: float | None = None


def _torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, without importing torch when it is not loaded yet."""
    if "torch" in sys.modules:
        import torch

        return Path(torch.hub.get_dir()) / "checkpoints"
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def _hf_repo(name: str) -> str:
    if name == "htdemucs":
        return f"{_HF_NAMESPACE}/HTDemucs"
    if name.startswith("htdemucs_"):
        return f"{_HF_NAMESPACE}/HTDemucs-{name[len('htdemucs_') :]}"
    return f"{_HF_NAMESPACE}/Demucs-{name}"


def _hf_cached(name: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # demucs depends on it, but a trimmed install may lack it
        return None
    found = try_to_load_from_cache(_hf_repo(name), filename)
    return Path(found) if isinstance(found, str) else None


def _single_file(folder: Path, sig: str) -> Path | None:
    """``sig.th``, ``sig-CHECKSUM.th`` or ``sig.safetensors`` in ``folder``."""
    if not folder.is_dir():
        return None
    for candidate in (folder / f"{sig}.th", folder / f"{sig}.safetensors"):
        if candidate.is_file():
            return candidate
    matches = sorted(p for p in folder.glob(f"{sig}-*.th") if p.stem.rsplit("-", 1)[0] == sig)
    return matches[0] if matches else None


def _bag_definition(name: str, models_dir: Path | None) -> dict[str, Any] | None:
    import yaml  # type: ignore[import-untyped]  # a demucs dependency, no hints

    candidates = [models_dir / f"{name}.yaml"] if models_dir is not None else []
    import demucs.pretrained

    candidates.append(Path(demucs.pretrained.REMOTE_ROOT) / f"{name}.yaml")
    for path in candidates:
        if path.is_file():
            with open(path) as file:
                bag = yaml.safe_load(file)
            if isinstance(bag, dict) and bag.get("models"):
                return bag
    return None


def find_weights(
    name: str, models_dir: str | os.PathLike[str] | None = None
) -> FoundWeights | None:
    """Where ``name``'s weights are on this machine, or None; never uses the network."""
    folder = Path(models_dir) if models_dir is not None else None
    if folder is not None:
        single = _single_file(folder, name)
        if single is not None:
            return FoundWeights(name=name, where="models_dir", files=(str(single),), is_bag=False)
    bag = _bag_definition(name, folder)
    if bag is None:
        return None
    hub = _torch_hub_checkpoints()
    files: list[str] = []
    places: list[str] = []
    for sig in bag["models"]:
        sig = str(sig)
        found: Path | None = None
        for where, place in (("models_dir", folder), ("torch_hub", hub)):
            if place is not None and (found := _single_file(place, sig)) is not None:
                places.append(where)
                break
        if found is None and (found := _hf_cached(name, f"{sig}.safetensors")) is not None:
            places.append("hf_cache")
        if found is None:
            return None
        files.append(str(found))
    segment = bag.get("segment")
    return FoundWeights(
        name=name,
        where=places[0],  # type: ignore[arg-type]  # one of the three literals above
        files=tuple(files),
        is_bag=True,
        bag_weights=bag.get("weights"),
        segment=float(segment) if segment is not None else None,
    )


def local_model_names(models_dir: Path) -> list[str]:
    """Model names a ``--repo`` folder offers: its bags and the single models no bag uses."""
    if not models_dir.is_dir():
        return []
    bags = sorted(p.stem for p in models_dir.glob("*.yaml"))
    members: set[str] = set()
    import demucs.pretrained

    for yaml_path in [
        *models_dir.glob("*.yaml"),
        *Path(demucs.pretrained.REMOTE_ROOT).glob("*.yaml"),
    ]:
        bag = _bag_definition(yaml_path.stem, models_dir)
        members.update(str(sig) for sig in (bag or {}).get("models", []))
    singles = set()
    for path in [*models_dir.glob("*.th"), *models_dir.glob("*.safetensors")]:
        stem = (
            path.stem.rsplit("-", 1)[0] if path.suffix == ".th" and "-" in path.stem else path.stem
        )
        if stem not in members:
            singles.add(stem)
    return bags + sorted(singles - set(bags))


def _package(path: Path) -> dict[str, Any]:
    """A demucs package ``{klass, args, kwargs, state}`` from a .th or .safetensors file."""
    if path.suffix == ".safetensors":
        from demucs.hf import _decode_json, _unflatten_state  # demucs pinned to 4.1.0
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata()
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
        state = (
            _unflatten_state(tensors, json.loads(metadata["structure"]))
            if "structure" in metadata
            else tensors
        )
        import importlib

        module, klass = metadata["klass"].rsplit(".", 1)
        return {
            "klass": getattr(importlib.import_module(module), klass),
            "args": _decode_json(json.loads(metadata["args"])),  # type: ignore[no-untyped-call]
            "kwargs": _decode_json(json.loads(metadata["kwargs"])),  # type: ignore[no-untyped-call]
            "state": state,
        }
    import torch

    # Pickle, as demucs' own loader: the models folder holds trusted files only.
    package: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    return package


def read_sources(found: FoundWeights) -> tuple[str, ...]:
    """The stem names of a found model, read from its first file's saved arguments."""
    package = _package(Path(found.files[0]))
    sources = package["kwargs"].get("sources") or (package["args"][0] if package["args"] else None)
    if not sources:
        raise KeyError(f"{found.files[0]} does not name its sources")
    return tuple(str(s) for s in sources)


def _check_checksum(path: Path) -> None:
    if path.suffix != ".th" or "-" not in path.stem:
        return
    expected = path.stem.rsplit("-", 1)[1]
    if not all(c in "0123456789abcdef" for c in expected):
        return
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(expected):
        raise EngineUnavailable(
            f"the weights file {path} is damaged (checksum mismatch); "
            "delete it and download it again"
        )


def _load_file(path: Path, name: str) -> Any:
    from demucs.states import load_model

    _check_checksum(path)
    package = _package(path)
    state = package.get("state")
    if isinstance(state, dict) and state.get("__quantized"):
        import importlib.util

        # demucs would sys.exit() here; say what to install instead.
        if importlib.util.find_spec("diffq") is None:
            raise EngineUnavailable(
                f"the demucs model {name} is quantized and needs the diffq package "
                f"(pip install diffq); pick an unquantized model or {_INSTEAD}"
            )
    return load_model(package)  # type: ignore[no-untyped-call]  # demucs has no hints


def offline_reason() -> str | None:
    """Why no download can happen now (in words), or None when the network answers."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "downloads are off (HF_HUB_OFFLINE is set)"
    answer: list[BaseException | None] = []

    def resolve() -> None:
        try:
            socket.getaddrinfo(_PROBE_HOST, 443)
            answer.append(None)
        except OSError as error:
            answer.append(error)

    # A resolver can hang for ~20 s offline; the daemon thread is abandoned after the
    # timeout (it only holds a DNS lookup, and ends when the resolver gives up).
    probe = threading.Thread(target=resolve, name="demucs-dns-probe", daemon=True)
    probe.start()
    probe.join(_PROBE_TIMEOUT)
    if not answer:
        return (
            f"the network does not answer ({_PROBE_HOST} did not resolve in {_PROBE_TIMEOUT:.0f} s)"
        )
    if answer[0] is not None:
        return f"the network does not answer ({_PROBE_HOST}: {answer[0]})"
    return None


def load_demucs(
    name: str,
    models_dir: str | os.PathLike[str] | None,
    *,
    no_download: Callable[[], str | None] = offline_reason,
) -> tuple[Any, str]:
    """Load model ``name`` (a demucs model or BagOfModels, on the CPU, in eval mode).

    Returns the model and where it came from (``models_dir``, ``torch_hub``, ``hf_cache`` or
    ``download``). ``no_download`` says why nothing may be downloaded now (None: it may);
    it is asked only when the weights are not here. Raises EngineUnavailable when the model
    is nowhere here and cannot be fetched.
    """
    found = find_weights(name, models_dir)
    if found is not None:
        logger.info("loading demucs model %s from %s", name, found.where)
        try:
            models = [_load_file(Path(f), name) for f in found.files]
        except (
            OSError,
            RuntimeError,
            EOFError,
            KeyError,
            ValueError,
            pickle.UnpicklingError,
        ) as error:
            raise EngineUnavailable(
                f"the weights of the demucs model {name} in {Path(found.files[0]).parent} cannot "
                f"be loaded ({type(error).__name__}: {error}); replace the files or {_INSTEAD}"
            ) from error
        if not found.is_bag:
            model = models[0]
        else:
            from demucs.apply import BagOfModels

            model = BagOfModels(models, found.bag_weights, found.segment)
        model.eval()
        return model, found.where
    looked = (
        f"no weights in {models_dir} or demucs' caches"
        if models_dir
        else "no weights in demucs' caches"
    )
    reason = no_download()
    if reason is not None:
        raise EngineUnavailable(
            f"The demucs model {name} cannot run here ({looked}, and {reason}); {_INSTEAD}, "
            f"or put the model's files in {models_dir or 'the models folder'}."
        )
    return _download(name), "download"


def _download(name: str) -> Any:
    from demucs.pretrained import get_model
    from demucs.repo import ModelLoadingError

    from soundforge.audio.separation.catalog import DEMUCS_MODELS, _installed

    spec = DEMUCS_MODELS.get(name)
    if spec is not None and spec.needs and not _installed(spec.needs):
        raise EngineUnavailable(
            f"the demucs model {name} needs the {spec.needs} package (pip install {spec.needs}); "
            f"pick another model or {_INSTEAD}"
        )
    logger.info("downloading demucs model %s", name)
    try:
        model = get_model(name)
    except ModelLoadingError as error:
        raise EngineUnavailable(
            f"there is no demucs model called {name} ({error}); {_INSTEAD}"
        ) from error
    except (OSError, ValueError, RuntimeError) as error:  # URLError is an OSError
        raise WeightsDownloadFailed(
            f"downloading the demucs model {name} failed ({error}); try again later or {_INSTEAD}"
        ) from error
    model.eval()
    return model
