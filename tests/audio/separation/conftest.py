"""Fixtures: tiny random-weight demucs models in a local model repo, and synthetic songs.

The repo is built with demucs' own serialization (``get_state`` + ``save_with_checksum``,
the ``{klass, args, kwargs, state}`` package ``demucs.pretrained.get_model(name, repo=...)``
loads), so the library's weight lookup and loading are exercised for real; only the
weights are random. Models use a 4 s training segment so a 10 s file crosses several
segments quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from soundforge.audio.separation import Separator
from soundforge.audio.separation.synth import SynthSong, synth_song

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FOUR = ["drums", "bass", "other", "vocals"]
SIX = [*FOUR, "guitar", "piano"]


def tiny_htdemucs(sources: list[str], seed: int) -> torch.nn.Module:
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    return HTDemucs(sources, channels=8, depth=4, t_layers=1, segment=4).eval()


def save_model(model: torch.nn.Module, path: Path, *, checksum: bool) -> Path:
    """Save as demucs does: ``path`` itself, or ``stem-<sha256[:8]>.th`` with ``checksum``."""
    from demucs.states import get_state, save_with_checksum

    args, kwargs = model._init_args_kwargs  # type: ignore[attr-defined]  # demucs' capture_init
    package = {
        "klass": type(model),
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, half=False),
    }
    if checksum:
        save_with_checksum(package, path)
        return next(path.parent.glob(f"{path.stem}-*.th"))
    torch.save(package, path)
    return path


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tinytest`` (4 stems, checksummed name), ``tiny6`` (6 stems) and ``tinybag``
    (a yaml bag of two 4-stem models with per-stem weights)."""
    repo = tmp_path_factory.mktemp("models")
    save_model(tiny_htdemucs(FOUR, 0), repo / "tinytest.th", checksum=True)
    save_model(tiny_htdemucs(SIX, 1), repo / "tiny6.th", checksum=False)
    save_model(tiny_htdemucs(FOUR, 2), repo / "tinya.th", checksum=False)
    save_model(tiny_htdemucs(FOUR, 3), repo / "tinyb.th", checksum=False)
    (repo / "tinybag.yaml").write_text(
        "models: ['tinya', 'tinyb']\nweights: [[1., 1., 0., 0.], [0., 1., 1., 1.]]\n"
    )
    return repo


@pytest.fixture(scope="session")
def separator(model_repo: Path) -> Iterator[Separator]:
    """One warm separator for the session, as a port keeps one (room for every test model)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; one core for these tests
    separator = Separator(models_dir=model_repo, max_models=6)
    yield separator
    separator.clear()
    torch.set_num_threads(threads)


def write_song(path: Path, song: SynthSong, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), song.mixture.T, song.sample_rate, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def song() -> SynthSong:
    return synth_song(10.0, seed=1)


@pytest.fixture(scope="session")
def song_wav(song: SynthSong, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_song(tmp_path_factory.mktemp("song") / "song.wav", song)


@pytest.fixture(scope="session")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of the synthetic song: one demucs segment, for tests about plumbing only."""
    return write_song(tmp_path_factory.mktemp("short") / "short.wav", synth_song(3.0, seed=2))


def read(path: str | Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)
