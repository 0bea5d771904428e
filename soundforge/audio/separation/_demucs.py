"""The demucs engine: ``apply_model``'s own segment walk, streamed, with real progress.

``demucs.apply.apply_model(split=True)`` cuts the whole track into segments (7.8 s for HT
models) every ``(1 - overlap)`` segment, runs the network on each, and blends them with
triangular weights; ``shifts`` repeats that on copies delayed by a random 0–0.5 s, and a
bag of models repeats it per model. It needs the whole track, and its four stems, in
memory (1.7 GB for a 3-minute song is fine; 3 hours is not), and it reports progress
only to a tqdm bar.

:class:`DemucsEngine` walks the same grids over a stream instead. Every (model, shift)
pair is a *track* with its own grid; segments are taken in order of their start, each
through ``apply_model(..., split=False)`` on a ``TensorChunk`` of the surrounding audio,
the very call ``apply_model`` makes per segment, so each segment sees the same input and
padding. A sample is emitted as soon as no later segment of any track covers it, and
tracks are combined in ``apply_model``'s order (shifts averaged, then bag weights).
Memory stays at a few segments; with ``shifts=0`` the output equals ``apply_model`` on the
whole file up to float rounding (the tests check it). With shifts the random delays differ
from a whole-file run (HT models' forward pass also draws from ``random``), as any two runs
do. Progress is ``segments done / segments planned``; raising from ``progress`` stops the
job at the next segment.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.progress import Progress
from soundforge.audio.separation._engines import Emit, EngineKey, JobSettings
from soundforge.audio.separation._pipeline import InputStream
from soundforge.audio.separation.weights import load_demucs

__all__ = ["DemucsEngine"]

logger = logging.getLogger(__name__)


class _Track:
    """One (model, shift) grid: segments at ``j·stride − delay``, blended by ``weight``."""

    def __init__(
        self,
        model: Any,
        index: int,
        delay: int,
        segment: float | None,
        stride: float,
        device: torch.device,
        sample_rate: int,
    ) -> None:
        length = int(sample_rate * (segment if segment is not None else model.segment))
        self.model = model
        self.segment = segment  # the job's value, passed on to each call as apply_model does
        self.index = index
        self.delay = delay
        self.length = length
        self.stride = int(stride * length)
        if self.stride < 1:
            raise EngineUnavailable(f"an overlap of {1 - stride} leaves demucs no stride")
        ramp = torch.cat(
            [
                torch.arange(1, length // 2 + 1, device=device),
                torch.arange(length - length // 2, 0, -1, device=device),
            ]
        )
        self.weight = ramp / ramp.max()  # apply_model's transition_power=1
        self.j = 0
        self.acc: torch.Tensor | None = None  # (sources, channels, n) from self.origin
        self.total_weight = torch.zeros(0)
        self.origin = 0

    def start(self) -> int:
        return self.j * self.stride - self.delay

    def count(self, frames: int) -> int:
        """How many segments ``apply_model`` makes: offsets ``range(0, frames + delay, stride)``."""
        return math.ceil((frames + self.delay) / self.stride)

    def add(self, start: int, out: torch.Tensor) -> None:
        """Accumulate one segment's weighted output; parts before time 0 are dropped."""
        n = out.shape[-1]
        weighted = (self.weight[:n] * out).cpu()
        weights = self.weight[:n].cpu()
        if start < 0:
            weighted, weights, n, start = weighted[..., -start:], weights[-start:], n + start, 0
        if self.acc is None:
            self.acc = torch.zeros(*weighted.shape[:-1], 0)
        end = start - self.origin + n
        if end > self.acc.shape[-1]:
            grow = end - self.acc.shape[-1]
            self.acc = torch.cat([self.acc, torch.zeros(*self.acc.shape[:-1], grow)], dim=-1)
            self.total_weight = torch.cat([self.total_weight, torch.zeros(grow)])
        a = start - self.origin
        self.acc[..., a : a + n] += weighted
        self.total_weight[a : a + n] += weights

    def take(self, until: int) -> torch.Tensor:
        """The blended output from ``origin`` up to ``until``, removed from the accumulator."""
        assert self.acc is not None
        k = until - self.origin
        out = self.acc[..., :k] / self.total_weight[:k]
        self.acc, self.total_weight = self.acc[..., k:], self.total_weight[k:]
        self.origin = until
        return out


class DemucsEngine:
    """A demucs model (or bag) loaded on a device, ready to stream files through."""

    normalise = True

    def __init__(self, key: EngineKey, *, no_download: Callable[[], str | None]) -> None:
        model, origin = load_demucs(key.model, key.models_dir, no_download=no_download)
        logger.info("demucs model %s ready on %s (from %s)", key.model, key.device, origin)
        self.key = key
        self.origin = origin
        self.device = torch.device(key.device)
        self._model = model.to(self.device)
        self.sources: tuple[str, ...] = tuple(str(s) for s in model.sources)
        self.sample_rate = int(model.samplerate)
        self.channels = int(model.audio_channels)

    @property
    def model(self) -> Any:
        """The loaded demucs model or BagOfModels (for benchmarks that call demucs directly)."""
        return self._model

    def _bag(self) -> tuple[list[Any], list[list[float]] | None]:
        from demucs.apply import BagOfModels

        if isinstance(self._model, BagOfModels):
            return list(self._model.models), self._model.weights
        return [self._model], None

    def max_segment(self) -> float:
        """The longest ``segment`` the model accepts (HT models: their training length)."""
        from demucs.htdemucs import HTDemucs

        nets = self._bag()[0]
        limits = [float(m.segment) for m in nets if isinstance(m, HTDemucs)]
        return min(limits) if limits else math.inf

    def check_segment(self, segment: float | None) -> None:
        if segment is not None and segment > self.max_segment():
            raise EngineUnavailable(
                f"the demucs model {self.key.model} accepts segments of at most "
                f"{self.max_segment():.1f} s, not {segment} s; leave segment unset or lower it"
            )

    def _tracks(self, settings: JobSettings) -> list[_Track]:
        # Random delays drawn in apply_model's order: per model, per shift.
        max_shift = int(0.5 * self.sample_rate)
        tracks = []
        for index, net in enumerate(self._bag()[0]):
            for _ in range(max(settings.shifts, 1)):
                delay = max_shift - random.randint(0, max_shift) if settings.shifts else 0
                tracks.append(
                    _Track(
                        net,
                        index,
                        delay,
                        settings.segment,
                        1 - settings.overlap,
                        self.device,
                        self.sample_rate,
                    )
                )
        return tracks

    def _segment(self, track: _Track, buffer: torch.Tensor, base: int, frames: int) -> None:
        from demucs.apply import TensorChunk, apply_model

        start = track.start()
        length = min(track.length, frames - start)
        # Audio around the segment, zeros outside the file: apply_model pads the segment
        # to the network's valid length with context on both sides, as it does here.
        lo, hi = start - track.length, start + 2 * track.length
        local = torch.zeros(1, buffer.shape[0], hi - lo)
        a, b = max(lo, base), min(hi, base + buffer.shape[-1], frames)
        if b > a:
            local[0, :, a - lo : b - lo] = buffer[:, a - base : b - base]
        chunk = TensorChunk(local, start - lo, length)  # type: ignore[no-untyped-call]
        out = apply_model(
            track.model, chunk, shifts=0, split=False, segment=track.segment, device=self.device
        )
        track.add(start, out[0])
        track.j += 1

    def _combine(self, tracks: list[_Track], until: int, shifts: int) -> torch.Tensor:
        nets, bag_weights = self._bag()
        estimate: torch.Tensor | None = None
        totals = [0.0] * len(self.sources)
        for index in range(len(nets)):
            out: torch.Tensor | None = None
            for track in tracks:
                if track.index == index:
                    part = track.take(until)
                    out = part if out is None else out + part
            assert out is not None
            if shifts:
                out = out / shifts
            if bag_weights is not None:
                for k, w in enumerate(bag_weights[index]):
                    out[k] *= w
                    totals[k] += w
            estimate = out if estimate is None else estimate + out
        assert estimate is not None
        if bag_weights is not None:
            for k in range(len(self.sources)):
                estimate[k] /= totals[k]
        return estimate

    def run(
        self, stream: InputStream, emit: Emit, settings: JobSettings, progress: Progress
    ) -> int:
        """Stream ``stream`` through the model; ``settings.stats`` must be the file's."""
        self.check_segment(settings.segment)
        mean, std = settings.stats or (0.0, 1.0)
        frames = stream.expected_frames
        tracks = self._tracks(settings)
        planned = max(sum(t.count(frames) for t in tracks), 1)
        buffer = torch.zeros(self.channels, 0)
        base = emitted = done = 0
        while True:
            live = [t for t in tracks if t.j < t.count(frames)]
            # Samples before every live track's next segment are final.
            until = min([t.start() for t in live] + [frames])
            if until > emitted:
                block = self._combine(tracks, until, settings.shifts)
                emit(np.ascontiguousarray((block * std + mean).numpy(), dtype=np.float32))
                emitted = until
            if not live:
                break
            track = min(live, key=_Track.start)
            need = min(track.start() + 2 * track.length, frames)
            while base + buffer.shape[-1] < need and not stream.exhausted:
                read = stream.read(max(need - base - buffer.shape[-1], 1 << 16))
                normalised = torch.from_numpy((read - np.float32(mean)) / np.float32(std))
                buffer = torch.cat([buffer, normalised], dim=-1)
            if base + buffer.shape[-1] < frames and stream.exhausted:
                frames = base + buffer.shape[-1]  # the resampler gave fewer frames than estimated
                continue
            self._segment(track, buffer, base, frames)
            done += 1
            progress(min(done / planned, 1.0), "separating")
            keep = min(t.start() for t in tracks) - 2 * max(t.length for t in tracks)
            if keep > base:
                buffer, base = buffer[:, keep - base :], keep
        return done
