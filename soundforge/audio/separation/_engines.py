"""The engine behaviour: what the chunked pipeline needs from a loaded separation model.

An engine is a loaded model that turns one window of audio into its stems. It knows its
sample rate, channel count and stem names; the pipeline (:mod:`._pipeline`) does the rest
(reading, resampling, windowing, crossfading, writing). Engines are cached by the
:class:`~.separator.Separator` and reused across jobs, so they hold no per-job state: the
demucs knobs of a job are passed with each window.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from soundforge.audio.progress import Progress

__all__ = ["Audio", "Engine", "EngineKey", "WindowSettings"]

Audio = npt.NDArray[np.float32]


class EngineKey(msgspec.Struct, frozen=True):
    """What identifies a loaded model in the Separator's cache."""

    engine: Literal["default", "demucs"]
    model: str
    device: Literal["cpu", "cuda"]
    models_dir: str | None


class WindowSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A job's demucs knobs, passed with every window (the embedded engine ignores them)."""

    shifts: int = 1
    overlap: float = 0.25
    segment: float | None = None


class Engine(Protocol):
    """A loaded model that separates windows of audio."""

    key: EngineKey
    sources: tuple[str, ...]
    sample_rate: int
    channels: int
    #: Whether windows should be normalised by the whole file's mean and deviation first
    #: (demucs was trained on normalised mixtures; its own CLI does this per file).
    normalise: bool

    def separate(self, audio: Audio, settings: WindowSettings, progress: Progress) -> Audio:
        """``(channels, n)`` float32 in, ``(len(sources), channels, n)`` float32 out."""
        ...
