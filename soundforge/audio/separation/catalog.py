"""Which engines and models exist, which stems each gives, and which can run here now.

The UI's model picker and ``--help`` read :func:`list_models`; the job plumbing reads
:func:`stem_names` to know which files a job will produce before it runs. Demucs models come
from a fixed table of what demucs 4.1 publishes, plus any extra model found in the
``models_dir`` (a ``--repo``-style folder: ``name.th`` files and ``name.yaml`` bags).

    [m.name for m in list_models("/data/models") if m.available]
    stem_names("demucs", "htdemucs_6s")   # ('drums', 'bass', 'other', 'vocals', 'guitar', 'piano')
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final, Literal

import msgspec

from soundforge.audio.separation.options import (
    DEFAULT_DEMUCS_MODEL,
    EMBEDDED_MODEL,
    InvalidSeparationOptions,
)

__all__ = ["DEMUCS_MODELS", "FOUR_STEMS", "ModelInfo", "list_models", "stem_names"]

logger = logging.getLogger(__name__)

FOUR_STEMS: Final[tuple[str, ...]] = ("drums", "bass", "other", "vocals")
_SIX_STEMS: Final[tuple[str, ...]] = (*FOUR_STEMS, "guitar", "piano")
#: The embedded engine writes vocals first: it is the stem its network really separates.
EMBEDDED_STEMS: Final[tuple[str, ...]] = ("vocals", "drums", "bass", "other")


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A model a job can name.

    ``available``: it can run now without a download (weights found, or embedded).
    ``default``: what ``auto`` runs when a job names no model (``htdemucs`` when its weights
    are here, else the embedded model); exactly one model has it.
    ``bag_size``: how many networks run per job (time scales with it). ``needs`` names a
    missing Python package the model requires (``diffq`` for quantized models), else None.
    """

    name: str
    engine: Literal["default", "demucs"]
    stems: tuple[str, ...]
    description: str
    bag_size: int
    available: bool
    default: bool
    needs: str | None = None


class _Spec(msgspec.Struct, frozen=True):
    stems: tuple[str, ...]
    bag_size: int
    description: str
    needs: str | None = None


#: What demucs 4.1 publishes (its ``remote/*.yaml``), with the facts the UI shows.
DEMUCS_MODELS: Final[dict[str, _Spec]] = {
    "htdemucs": _Spec(FOUR_STEMS, 1, "Hybrid Transformer Demucs v4, the default (SDR ≈ 8.7)"),
    "htdemucs_ft": _Spec(
        FOUR_STEMS, 4, "htdemucs fine-tuned per stem: best quality, 4× slower (SDR ≈ 9.0)"
    ),
    "htdemucs_6s": _Spec(_SIX_STEMS, 1, "htdemucs with guitar and piano stems (experimental)"),
    "hdemucs_mmi": _Spec(FOUR_STEMS, 1, "Hybrid Demucs v3 retrained on MUSDB + 800 songs"),
    "mdx": _Spec(FOUR_STEMS, 4, "Hybrid Demucs v3, MDX 2021 winner, MUSDB only (SDR ≈ 7.7)"),
    "mdx_extra": _Spec(FOUR_STEMS, 4, "Hybrid Demucs v3 trained with extra data"),
    "mdx_q": _Spec(FOUR_STEMS, 4, "quantized mdx: smaller download", "diffq"),
    "mdx_extra_q": _Spec(FOUR_STEMS, 4, "quantized mdx_extra: smaller download", "diffq"),
}

_EMBEDDED_DESCRIPTION: Final = (
    "built in, no download: Spleeter 2-stem network for vocals, signal processing "
    "(harmonic/percussive and a low band) for drums, bass and other"
)


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


def stem_names(
    engine: str, model: str | None = None, models_dir: str | os.PathLike[str] | None = None
) -> tuple[str, ...]:
    """The stems a job with this engine and model writes, in the order they are written.

    ``auto`` is answered for the demucs model when its weights are at hand, else for the
    embedded engine, as :class:`~.separator.Separator` would decide. Raises
    InvalidSeparationOptions for an engine or model that does not exist.
    """
    if engine == "auto":
        from soundforge.audio.separation.weights import find_weights

        name = model or DEFAULT_DEMUCS_MODEL
        if name != EMBEDDED_MODEL and find_weights(name, models_dir) is not None:
            return stem_names("demucs", name, models_dir)
        return EMBEDDED_STEMS
    if engine == "default":
        if model not in (None, EMBEDDED_MODEL):
            raise InvalidSeparationOptions(
                f"the default engine has one model, {EMBEDDED_MODEL}, not {model!r}"
            )
        return EMBEDDED_STEMS
    if engine != "demucs":
        raise InvalidSeparationOptions(f"unknown separation engine {engine!r}")
    name = model or DEFAULT_DEMUCS_MODEL
    if name in DEMUCS_MODELS:
        return DEMUCS_MODELS[name].stems
    from soundforge.audio.separation.weights import find_weights, read_sources

    found = find_weights(name, models_dir)
    if found is None:
        raise InvalidSeparationOptions(
            f"unknown demucs model {name!r}; use one of {', '.join(DEMUCS_MODELS)} "
            "or put its .th/.yaml files in the models folder"
        )
    return read_sources(found)


def list_models(models_dir: str | os.PathLike[str] | None = None) -> list[ModelInfo]:
    """Every model a job may name: the embedded one, demucs' published ones, and extra
    models found in ``models_dir``; ``available`` tells which run now without a download."""
    from soundforge.audio.separation.weights import find_weights, local_model_names, read_sources

    models = [
        ModelInfo(
            name=EMBEDDED_MODEL,
            engine="default",
            stems=EMBEDDED_STEMS,
            description=_EMBEDDED_DESCRIPTION,
            bag_size=1,
            available=True,
            default=False,
        )
    ]
    have_weights: dict[str, bool] = {}
    for name, spec in DEMUCS_MODELS.items():
        missing = spec.needs if spec.needs and not _installed(spec.needs) else None
        have_weights[name] = find_weights(name, models_dir) is not None
        models.append(
            ModelInfo(
                name=name,
                engine="demucs",
                stems=spec.stems,
                description=spec.description,
                bag_size=spec.bag_size,
                available=have_weights[name] and missing is None,
                default=name == DEFAULT_DEMUCS_MODEL and have_weights[name],
                needs=missing,
            )
        )
    if models_dir is not None and Path(models_dir).is_dir():
        for name in local_model_names(Path(models_dir)):
            if name in DEMUCS_MODELS:
                continue
            found = find_weights(name, models_dir)
            if found is None:
                continue
            try:
                stems = read_sources(found)
            except (OSError, RuntimeError, KeyError, ValueError) as error:
                # A broken extra file must not hide the other models from the picker.
                logger.warning("skipping model %s in %s: %s", name, models_dir, error)
                continue
            models.append(
                ModelInfo(
                    name=name,
                    engine="demucs",
                    stems=stems,
                    description=f"local demucs model from {models_dir}",
                    bag_size=len(found.files),
                    available=True,
                    default=False,
                )
            )
    # Which engine ``auto`` picks without naming a model: demucs' default when it can run.
    if not have_weights[DEFAULT_DEMUCS_MODEL]:
        models[0] = msgspec.structs.replace(models[0], default=True)
    return models
