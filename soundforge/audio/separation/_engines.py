"""The engine behaviour: what the chunked pipeline needs from a loaded separation model.

An engine is a loaded model that turns a stream of audio into its stems. It knows its
sample rate, channel count and stem names; :mod:`._pipeline` gives it the input as blocks
at that rate and writes what it emits. How it walks the stream is its own business: the
embedded engine separates overlapping windows and crossfades them; demucs walks its own
segment grid so a streamed file comes out exactly as ``apply_model`` on the whole file
would give. Engines are cached by the :class:`~.separator.Separator` and shared between
jobs, so they hold no per-job state: a job's knobs come with each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from soundforge.audio.progress import Progress

if TYPE_CHECKING:
    from soundforge.audio.separation._pipeline import InputStream

__all__ = ["Audio", "Emit", "Engine", "EngineKey", "JobSettings"]

Audio = npt.NDArray[np.float32]


class EngineKey(msgspec.Struct, frozen=True):
    """What identifies a loaded model in the Separator's cache."""

    engine: Literal["default", "demucs"]
    model: str
    device: Literal["cpu", "cuda"]
    models_dir: str | None


class JobSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A job's knobs, passed to every call (engines are shared between jobs).

    ``shifts``/``overlap``/``segment`` are demucs'; ``window``/``crossfade`` (frames at the
    engine's rate) are the windowed engines'; ``stats`` is the whole file's mono (mean,
    deviation) for engines that normalise their input, measured by the caller.
    """

    shifts: int = 1
    overlap: float = 0.25
    segment: float | None = None
    window: int = 30 * 44100
    crossfade: int = 2 * 44100
    stats: tuple[float, float] | None = None


#: Where an engine sends separated audio, in order: ``(len(sources), channels, n)`` blocks.
Emit = Callable[[Audio], None]


class Engine(Protocol):
    """A loaded model that separates a stream of audio, block by block."""

    key: EngineKey
    sources: tuple[str, ...]
    sample_rate: int
    channels: int
    #: Whether ``run`` needs ``JobSettings.stats`` (demucs normalises by the whole file).
    normalise: bool

    def run(
        self, stream: InputStream, emit: Emit, settings: JobSettings, progress: Progress
    ) -> int:
        """Separate everything ``stream`` yields into ``emit``; returns the chunk count."""
        ...
