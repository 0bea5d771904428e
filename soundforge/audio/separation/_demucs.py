"""The demucs engine: ``demucs.apply.apply_model`` on one window, with real progress.

``apply_model`` has no progress callback for callers, but it does call ``callback`` with
``state="end"`` after every segment of every shift of every model of a bag (demucs 4.1), so
each window reports ``segments done / segments planned``, computed the way ``apply_model``
splits its input. Raising from ``progress`` (a cancelled job) stops the separation at the
next segment: demucs lets exceptions from the callback through.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.progress import Progress
from soundforge.audio.separation._engines import Audio, EngineKey, WindowSettings
from soundforge.audio.separation.weights import load_demucs

__all__ = ["DemucsEngine"]

logger = logging.getLogger(__name__)


class DemucsEngine:
    """A demucs model (or bag) loaded on a device, ready for windows of audio."""

    normalise = True

    def __init__(self, key: EngineKey, *, download: bool = True) -> None:
        import torch

        model, origin = load_demucs(key.model, key.models_dir, download=download)
        self.key = key
        self.origin = origin
        self._model = model.to(torch.device(key.device))
        self.sources: tuple[str, ...] = tuple(str(s) for s in model.sources)
        self.sample_rate = int(model.samplerate)
        self.channels = int(model.audio_channels)

    @property
    def model(self) -> Any:
        """The loaded demucs model or BagOfModels (for benchmarks that call demucs directly)."""
        return self._model

    def _networks(self) -> list[Any]:
        from demucs.apply import BagOfModels

        return list(self._model.models) if isinstance(self._model, BagOfModels) else [self._model]

    def max_segment(self) -> float:
        """The longest ``segment`` the model accepts (HT models: their training length)."""
        from demucs.htdemucs import HTDemucs

        limits = [float(m.segment) for m in self._networks() if isinstance(m, HTDemucs)]
        return min(limits) if limits else math.inf

    def check_segment(self, segment: float | None) -> None:
        if segment is not None and segment > self.max_segment():
            raise EngineUnavailable(
                f"the demucs model {self.key.model} accepts segments of at most "
                f"{self.max_segment():.1f} s, not {segment} s; leave segment unset or lower it"
            )

    def _planned_segments(self, length: int, settings: WindowSettings) -> int:
        """How many ``state="end"`` callbacks ``apply_model`` will make for ``length`` samples."""
        total = 0
        rounds = max(settings.shifts, 1)
        # With shifts, each round separates the window plus a random part of 0.5 s padding.
        eff = length + (int(0.5 * self.sample_rate) // 2 if settings.shifts else 0)
        for net in self._networks():
            seg = settings.segment if settings.segment is not None else float(net.segment)
            seg_len = int(self.sample_rate * seg)
            stride = max(1, int((1 - settings.overlap) * seg_len))
            total += rounds * math.ceil(eff / stride)
        return max(total, 1)

    def separate(self, audio: Audio, settings: WindowSettings, progress: Progress) -> Audio:
        import torch
        from demucs.apply import apply_model

        self.check_segment(settings.segment)
        planned = self._planned_segments(audio.shape[-1], settings)
        done = 0

        def on_segment(info: dict[str, Any]) -> None:
            nonlocal done
            if info.get("state") == "end":
                done += 1
                progress(min(done / planned, 0.99), "separating")

        mix = torch.from_numpy(np.ascontiguousarray(audio))[None]
        out = apply_model(
            self._model,
            mix,
            shifts=settings.shifts,
            split=True,
            overlap=settings.overlap,
            segment=settings.segment,
            device=self.key.device,
            callback=on_segment,
        )
        progress(1.0, "separating")
        return np.ascontiguousarray(out[0].cpu().numpy(), dtype=np.float32)
