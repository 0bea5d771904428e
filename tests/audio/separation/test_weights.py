"""Finding demucs weights: models folder, signature files, caches, and the offline error."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.separation import (
    EMBEDDED_MODEL,
    SeparationOptions,
    Separator,
    find_weights,
)
from soundforge.audio.separation.weights import load_demucs, offline_reason
from tests.audio.separation.conftest import FOUR, save_model, tiny_htdemucs


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network and empty demucs caches (torch hub and HuggingFace)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


def test_single_models_and_bags_in_the_models_folder(model_repo: Path, offline: Path) -> None:
    single = find_weights("tinytest", model_repo)
    assert single is not None and single.where == "models_dir" and not single.is_bag
    assert Path(single.files[0]).name.startswith("tinytest-")  # demucs' checksummed name
    bag = find_weights("tinybag", model_repo)
    assert bag is not None and bag.is_bag and len(bag.files) == 2
    assert bag.bag_weights == [[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]
    assert find_weights("htdemucs", model_repo) is None
    assert find_weights("nothing", None) is None


def test_published_bag_from_signature_files_alone(offline: Path) -> None:
    """htdemucs is signature 955717e8 in demucs' bundled bag list: that file is enough."""
    repo = offline / "models"
    repo.mkdir()
    save_model(tiny_htdemucs(FOUR, 7), repo / "955717e8.th", checksum=False)
    found = find_weights("htdemucs", repo)
    assert found is not None and found.is_bag and found.where == "models_dir"
    model, origin = load_demucs("htdemucs", repo, no_download=lambda: "offline")
    assert origin == "models_dir" and list(model.sources) == FOUR


def test_torch_hub_cache_is_searched_after_the_models_folder(offline: Path) -> None:
    hub = offline / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    save_model(tiny_htdemucs(FOUR, 8), hub / "955717e8.th", checksum=True)
    found = find_weights("htdemucs", offline / "no-such-folder")
    assert found is not None and found.where == "torch_hub"


def test_a_damaged_checksummed_file_is_refused(model_repo: Path, offline: Path) -> None:
    repo = offline / "damaged"
    shutil.copytree(model_repo, repo)
    path = next(repo.glob("tinytest-*.th"))
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EngineUnavailable, match="damaged"):
        load_demucs("tinytest", repo, no_download=lambda: "offline")


def test_offline_without_weights_says_what_works_instead_at_once(
    model_repo: Path, offline: Path, short_wav: Path
) -> None:
    separator = Separator(models_dir=model_repo)
    started = time.perf_counter()
    with pytest.raises(EngineUnavailable) as caught:
        separator.separate(short_wav, offline / "out", SeparationOptions(engine="demucs"))
    elapsed = time.perf_counter() - started
    message = str(caught.value)
    assert elapsed < 2.0  # no DNS wait
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert "htdemucs" in message and "'default'" in message and EMBEDDED_MODEL in message
    assert "HF_HUB_OFFLINE" in message and str(model_repo) in message
    assert not (offline / "out").exists() or not list((offline / "out").iterdir())


def test_offline_reason_honours_hf_hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline_reason() == "downloads are off (HF_HUB_OFFLINE is set)"


def test_downloads_can_be_disabled_per_job(
    model_repo: Path, offline: Path, short_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")  # even where the network may answer
    options = SeparationOptions(engine="demucs", model="htdemucs_ft", download=False)
    started = time.perf_counter()
    with pytest.raises(EngineUnavailable, match="downloads are disabled for this job"):
        Separator(models_dir=model_repo).separate(short_wav, offline / "out", options)
    assert time.perf_counter() - started < 2.0
    auto = Separator(models_dir=model_repo).separate(
        short_wav, offline / "auto", SeparationOptions(model="htdemucs_ft", download=False)
    )
    assert auto.engine == "default" and "downloads are disabled" in (auto.fallback_reason or "")
