"""Rendering a DAW lane's edit list: the gain envelope of the region edits, applied to audio.

A lane keeps its stem's full length, so that the stems of a track stay aligned: no edit
moves or removes time. Each edit multiplies the lane by a factor over time:

* ``trim(start, end)`` silences everything outside ``[start, end)``;
* ``mute(start, end)`` silences the region;
* ``gain(start, end, gain_db)`` scales the region by ``10 ** (gain_db / 20)``;
* ``fade_in``/``fade_out(start, end)`` ramp the region up from silence / down to silence
  along equal-power curves (``sin``/``cos`` of a quarter turn);
* ``split(at)`` divides the clip holding ``at`` in two; clips are what the page draws and
  what a region snaps to, and a split changes no sample.

Edits apply in position order (their factors multiply). The samples an edit is about get
exactly its factor (a muted region is digital silence, a gained one exactly scaled); the hard
edges of mute, trim and gain get a short de-click ramp (:data:`DECLICK_MS`, raised cosine) on
the *other* side: before and after a muted or gained region, inside the ends of a trim's
kept region.

Everything here is pure numpy except :func:`render_file`, which streams a file through the
envelope block by block (soundfile), so a long stem never sits in memory whole::

    edits = [RegionEdit("mute", 1000, 2000), RegionEdit("gain", 3000, 4000, gain_db=-6.0)]
    out = render(audio, 44100, edits)                     # (frames, channels) float32
    info = render_file(Path("vocals.wav"), Path("vocals.v2.wav"), edits)
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import soundfile as sf  # type: ignore[import-untyped]

from soundforge.audio.errors import DiskFull, UnreadableAudio

__all__ = [
    "BLOCK_FRAMES",
    "DECLICK_MS",
    "OPS",
    "Clip",
    "EditOp",
    "RegionEdit",
    "RenderedFile",
    "clips",
    "envelope",
    "frame_at",
    "render",
    "render_file",
]

EditOp = Literal["trim", "split", "fade_in", "fade_out", "gain", "mute"]
#: Every edit operation, in the order the page offers them.
OPS: Final[tuple[EditOp, ...]] = ("trim", "split", "fade_in", "fade_out", "gain", "mute")
#: The de-click ramp at a hard region edge (milliseconds).
DECLICK_MS: Final = 5.0
#: Frames read, enveloped and written at a time by :func:`render_file`.
BLOCK_FRAMES: Final = 1 << 16

Envelope = npt.NDArray[np.float64]


class RegionEdit(msgspec.Struct, frozen=True):
    """One edit as the renderer needs it. ``split`` uses ``start_ms`` only."""

    op: EditOp
    start_ms: int
    end_ms: int | None = None
    gain_db: float | None = None


class Clip(msgspec.Struct, frozen=True):
    """A stretch of a lane between two splits (or a split and an end)."""

    start_ms: int
    end_ms: int


class RenderedFile(msgspec.Struct, frozen=True):
    path: str
    size_bytes: int
    sample_rate: int
    channels: int
    frames: int
    duration_ms: int
    #: Renders are 32-bit float WAV: a positive gain keeps its headroom instead of clipping.
    bit_depth: int = 32


def clips(duration_ms: int, edits: Iterable[RegionEdit]) -> list[Clip]:
    """The lane's clips: ``[0, duration)`` divided at every split inside it."""
    cuts = sorted({e.start_ms for e in edits if e.op == "split" and 0 < e.start_ms < duration_ms})
    bounds = [0, *cuts, duration_ms]
    return [Clip(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def frame_at(ms: float, sample_rate: int) -> int:
    """The frame a position in milliseconds falls on."""
    return round(ms * sample_rate / 1000)


def _raised_cosine(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _scale(
    env: Envelope, first: int, lo: int, hi: int, factor: Callable[[Envelope], Envelope]
) -> None:
    """Multiply the frames ``[lo, hi)`` of the block starting at ``first`` by ``factor(i)``."""
    a, b = max(lo, first), min(hi, first + len(env))
    if a < b:
        env[a - first : b - first] *= factor(np.arange(a, b, dtype=np.float64))


def _region(env: Envelope, first: int, s: int, e: int, level: float, ramp: int) -> None:
    """Region ``[s, e)`` at ``level``, reached over ``ramp`` frames before and after it."""
    _scale(env, first, s, e, lambda i: np.full_like(i, level))
    if level == 1.0:
        return

    def towards(weight: Envelope) -> Envelope:
        return 1.0 + (level - 1.0) * _raised_cosine(weight)

    _scale(env, first, s - ramp, s, lambda i: towards((i - (s - ramp) + 1) / (ramp + 1)))
    _scale(env, first, e, e + ramp, lambda i: towards((e + ramp - i) / (ramp + 1)))


def _trim(env: Envelope, first: int, s: int, e: int, ramp: int) -> None:
    """Silence outside ``[s, e)``; the kept region's ends ramp in and out."""
    total = first + len(env)
    _scale(env, first, min(first, s), s, np.zeros_like)
    _scale(env, first, e, max(total, e), np.zeros_like)
    r = min(ramp, (e - s) // 2)
    if r > 0:
        _scale(env, first, s, s + r, lambda i: _raised_cosine((i - s + 1) / (r + 1)))
        _scale(env, first, e - r, e, lambda i: _raised_cosine((e - i) / (r + 1)))


def _fade(env: Envelope, first: int, s: int, e: int, rising: bool) -> None:
    length = e - s
    if rising:  # the first frame silent
        _scale(env, first, s, e, lambda i: np.sin(0.5 * np.pi * (i - s) / length))
    else:  # the last frame silent
        _scale(env, first, s, e, lambda i: np.cos(0.5 * np.pi * (i - s + 1) / length))


def envelope(
    edits: Sequence[RegionEdit], sample_rate: int, start: int, stop: int
) -> npt.NDArray[np.float32]:
    """The lane's gain for frames ``[start, stop)`` (one factor per frame)."""
    env: Envelope = np.ones(max(0, stop - start), dtype=np.float64)
    ramp = max(1, frame_at(DECLICK_MS, sample_rate))
    for edit in edits:
        s = frame_at(edit.start_ms, sample_rate)
        if edit.op == "split" or edit.end_ms is None:
            continue
        e = frame_at(edit.end_ms, sample_rate)
        if e <= s:
            continue
        if edit.op == "mute":
            _region(env, start, s, e, 0.0, ramp)
        elif edit.op == "gain":
            _region(env, start, s, e, math.pow(10.0, (edit.gain_db or 0.0) / 20.0), ramp)
        elif edit.op == "trim":
            _trim(env, start, s, e, ramp)
        elif edit.op in ("fade_in", "fade_out"):
            _fade(env, start, s, e, rising=edit.op == "fade_in")
    return env.astype(np.float32)


def render(
    audio: npt.NDArray[np.floating], sample_rate: int, edits: Sequence[RegionEdit]
) -> npt.NDArray[np.float32]:
    """``audio`` (``(frames, channels)`` or ``(frames,)``) with the edits applied."""
    samples = np.asarray(audio, dtype=np.float32)
    env = envelope(edits, sample_rate, 0, samples.shape[0])
    return samples * (env[:, None] if samples.ndim == 2 else env)


def render_file(
    source: Path,
    target: Path,
    edits: Sequence[RegionEdit],
    *,
    progress: Callable[[float], None] | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> RenderedFile:
    """Write ``source`` with the edits applied to ``target`` (32-bit float WAV), block by
    block; the file appears whole or not at all (written under a temporary name first).

    Raises UnreadableAudio when ``source`` is not audio libsndfile reads, DiskFull when the
    disk has no room. Blocking: call it in a worker thread."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        src = sf.SoundFile(str(source))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise UnreadableAudio(f"the stem's file cannot be read as audio: {error}") from error
    try:
        with (
            src,
            sf.SoundFile(
                str(partial),
                "w",
                samplerate=src.samplerate,
                channels=src.channels,
                format="WAV",
                subtype="FLOAT",
            ) as dst,
        ):
            total = max(src.frames, 1)
            done = 0
            for block in src.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                env = envelope(edits, src.samplerate, done, done + len(block))
                dst.write(block * env[:, None])
                done += len(block)
                if progress is not None:
                    progress(min(done / total, 1.0))
            rate, channels = src.samplerate, src.channels
        os.replace(partial, target)
    except (OSError, sf.LibsndfileError, RuntimeError) as error:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        no_space = isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
        if no_space or "no space left" in str(error).lower():
            raise DiskFull(
                f"the disk holding {target.parent} is full; free some space and render again"
            ) from error
        raise
    return RenderedFile(
        path=str(target),
        size_bytes=target.stat().st_size,
        sample_rate=rate,
        channels=channels,
        frames=done,
        duration_ms=round(done * 1000 / rate),
    )
