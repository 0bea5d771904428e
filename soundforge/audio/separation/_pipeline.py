"""Streaming a file through an engine in overlapping windows, so memory stays flat.

A 3-hour file is 3.8 GB of stereo float32 at 44.1 kHz, and its four stems four times that;
nothing here holds more than a window of it. The input is read with ``soundfile.SoundFile``
in blocks (resampled on the fly with ``soxr`` when its rate is not the engine's); stems are
written block by block to ``.<stem>.<ext>.partial`` files (resampled back to the input's
rate) and renamed into place only after the last block, so a failure or a cancellation
leaves no stem behind. Windowed engines see windows of ``chunk + overlap`` frames every
``chunk`` frames, each crossfaded linearly with the previous window's tail.

:func:`run_windows` is the walk of windowed engines (the embedded one); demucs walks its
own segment grid instead (:mod:`._demucs`). :func:`measure_stats` is demucs' whole-file
normaliser (mean and deviation of the mono mix), measured in a first streaming pass.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]  # no type hints shipped

from soundforge.audio.errors import DiskFull
from soundforge.audio.progress import Progress
from soundforge.audio.separation._engines import Audio, Emit
from soundforge.audio.separation.options import OutputFormat

__all__ = ["InputStream", "StemWriter", "measure_stats", "run_windows"]

_READ_BLOCK: Final = 1 << 18  # frames per soundfile read (6 s at 44.1 kHz)
_SUBTYPES: Final = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
_MP3_RATES: Final = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


class InputStream:
    """The input file as blocks of ``channels`` at ``rate``, read in order, once."""

    def __init__(self, path: Path, rate: int, channels: int) -> None:
        self._file = sf.SoundFile(str(path))
        self.in_rate = int(self._file.samplerate)
        self.in_frames = int(self._file.frames)
        self.rate = rate
        self.channels = channels
        self._resampler: Any = None
        if self.in_rate != rate:
            import soxr  # type: ignore[import-untyped]

            self._resampler = soxr.ResampleStream(self.in_rate, rate, channels, dtype="float32")
        self._pending = np.zeros((channels, 0), dtype=np.float32)
        self._eof = False

    @property
    def expected_frames(self) -> int:
        """Frames the whole input makes at the engine's rate (exact without resampling)."""
        return round(self.in_frames * self.rate / self.in_rate)

    @property
    def exhausted(self) -> bool:
        return self._eof and self._pending.shape[1] == 0

    def _channels(self, block: np.ndarray) -> Audio:
        data = np.ascontiguousarray(block.T, dtype=np.float32)
        if data.shape[0] == self.channels:
            return data
        if data.shape[0] == 1:  # mono: the same signal on every channel, as demucs does
            return np.repeat(data, self.channels, axis=0)
        return np.ascontiguousarray(data[: self.channels])

    def _fill(self, frames: int) -> None:
        while self._pending.shape[1] < frames and not self._eof:
            block = self._file.read(_READ_BLOCK, dtype="float32", always_2d=True)
            self._eof = block.shape[0] < _READ_BLOCK
            data = self._channels(block)
            if not np.isfinite(data).all():
                data = np.nan_to_num(data, nan=0.0, posinf=1.0, neginf=-1.0)
            if self._resampler is not None:
                out = self._resampler.resample_chunk(data.T, last=self._eof)
                data = np.ascontiguousarray(
                    np.asarray(out, dtype=np.float32).reshape(-1, self.channels).T
                )
            self._pending = np.concatenate([self._pending, data], axis=1)

    def read(self, frames: int) -> Audio:
        """Up to ``frames`` frames; fewer only at the end of the input."""
        self._fill(frames + 1)  # one more, so the end is known as soon as it is reached
        out, self._pending = self._pending[:, :frames], self._pending[:, frames:]
        return np.ascontiguousarray(out)

    def close(self) -> None:
        self._file.close()


def measure_stats(path: Path, rate: int, channels: int) -> tuple[float, float]:
    """Mean and (unbiased) deviation of the mono mixdown, streamed: demucs' normaliser."""
    stream = InputStream(path, rate, channels)
    total, squares, count = 0.0, 0.0, 0
    try:
        while not stream.exhausted:
            mono = stream.read(_READ_BLOCK).mean(axis=0, dtype=np.float64)
            total += float(mono.sum())
            squares += float(np.square(mono).sum())
            count += mono.size
    finally:
        stream.close()
    if count < 2:
        return 0.0, 1.0
    mean = total / count
    var = max(squares - count * mean * mean, 0.0) / (count - 1)
    return mean, float(np.sqrt(var)) + 1e-8


def output_rate(in_rate: int, fmt: OutputFormat) -> int:
    """Stems keep the input's rate, except where MP3 cannot carry it (then 44.1 kHz)."""
    return 44100 if fmt == "mp3" and in_rate not in _MP3_RATES else in_rate


def _disk_full(error: BaseException, folder: Path) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    if "no space left" in text or "disk full" in text or "quota exceeded" in text:
        return True
    try:
        stat = os.statvfs(folder)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < (1 << 20)


class StemWriter:
    """One stem file, written block by block to a hidden partial name, renamed by commit()."""

    def __init__(
        self,
        final: Path,
        fmt: OutputFormat,
        bit_depth: int,
        rate: int,
        channels: int,
        engine_rate: int,
    ) -> None:
        self.final = final
        self.partial = final.with_name(f".{final.name}.partial")
        self.format = fmt
        self.bit_depth = None if fmt == "mp3" else bit_depth
        self.rate = rate
        self.channels = channels
        self.frames = 0
        self._clip = not (fmt == "wav" and bit_depth == 32)
        extra: dict[str, Any] = {}
        if fmt == "mp3":  # 320 kbit/s constant, demucs' own mp3 default
            extra = {"compression_level": 0.0, "bitrate_mode": "CONSTANT"}
        subtype = "MPEG_LAYER_III" if fmt == "mp3" else _SUBTYPES[bit_depth]
        self._resampler: Any = None
        if rate != engine_rate:
            import soxr

            self._resampler = soxr.ResampleStream(engine_rate, rate, channels, dtype="float32")
        try:
            self._file = sf.SoundFile(
                str(self.partial), "w", rate, channels, subtype, format=fmt.upper(), **extra
            )
        except (OSError, RuntimeError) as error:
            raise self._failure(error) from error

    def _failure(self, error: BaseException) -> BaseException:
        if _disk_full(error, self.final.parent):
            return DiskFull(
                f"the disk holding {self.final.parent} is full; free some space and retry"
            )
        return error

    def _guard(self, action: Any) -> None:
        try:
            action()
        except (OSError, RuntimeError, AssertionError) as error:
            # soundfile reports a short write with a bare assert; check the disk first.
            failure = self._failure(error)
            if failure is error:
                raise
            raise failure from error

    def _put(self, block: Audio, limit: int | None) -> None:
        frames = np.asarray(block, dtype=np.float32).T
        if limit is not None:
            frames = frames[: max(limit - self.frames, 0)]
        if self._clip:
            frames = np.clip(frames, -1.0, 1.0)
        if frames.shape[0]:
            self._guard(lambda: self._file.write(np.ascontiguousarray(frames)))
            self.frames += frames.shape[0]

    def write(self, block: Audio, limit: int | None = None) -> None:
        """Append ``(channels, n)`` at the engine's rate; never past ``limit`` frames."""
        if self._resampler is not None:
            out = self._resampler.resample_chunk(np.ascontiguousarray(block.T), last=False)
            block = np.asarray(out, dtype=np.float32).reshape(-1, self.channels).T
        self._put(block, limit)

    def finish(self, frames: int | None) -> None:
        """Flush, pad or trim to exactly ``frames`` (None: as written), and close."""
        if self._resampler is not None:
            empty = np.zeros((0, self.channels), dtype=np.float32)
            out = self._resampler.resample_chunk(empty, last=True)
            self._put(np.asarray(out, dtype=np.float32).reshape(-1, self.channels).T, frames)
        if frames is not None and self.frames < frames:
            self._put(np.zeros((self.channels, frames - self.frames), dtype=np.float32), frames)
        self._guard(self._file.close)

    def commit(self) -> int:
        """Rename the finished partial file into place; returns its size in bytes."""
        os.replace(self.partial, self.final)
        return self.final.stat().st_size

    def discard(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            if not self._file.closed:
                self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def run_windows(
    stream: InputStream,
    separate: Callable[[Audio, Progress], Audio],
    emit: Emit,
    *,
    window: int,
    overlap: int,
    progress: Progress,
) -> int:
    """Separate ``stream`` in windows of ``window + overlap`` frames every ``window``
    frames, crossfading each window's head with the previous window's tail; returns the
    window count. ``separate`` maps ``(channels, n)`` to ``(stems, channels, n)``."""
    total = max(stream.expected_frames, 1)
    fade = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
    buffer = stream.read(window + overlap)
    tail: Audio | None = None
    done = chunks = 0
    while buffer.shape[1] > 0:
        last = stream.exhausted
        step = buffer.shape[1] if last else window

        def report(fraction: float, stage: str, base: int = done, step: int = step) -> None:
            progress(min((base + fraction * step) / total, 1.0), stage)

        out = separate(buffer, report)
        chunks += 1
        if tail is not None:
            k = tail.shape[-1]
            out[..., :k] = tail * (1.0 - fade[:k]) + out[..., :k] * fade[:k]
        emit(out if last else out[..., :window])
        done += step
        if last:
            break
        tail = np.ascontiguousarray(out[..., window : window + overlap])
        # Not exhausted means at least one frame follows, so the next window is never empty.
        buffer = np.concatenate([buffer[:, window:], stream.read(window)], axis=1)
    return chunks
