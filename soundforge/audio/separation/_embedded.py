"""The embedded engine (``default``, model ``spleeter-dsp``): 4 stems, no download.

One STFT of the window feeds both halves: Spleeter's networks give the vocal mask
(:mod:`._spleeter`), and the accompaniment's magnitude is split into drums, bass and other
(:mod:`._dsp`). The four masks sum to one in every bin, so the stems add back up to the
mixture. Each stem is then the inverse STFT of the mixture times its mask.

    engine = EmbeddedEngine(EngineKey("default", EMBEDDED_MODEL, "cpu", None))
    stems = engine.separate(audio, NO_PROGRESS)   # (4, 2, n) for a (2, n) window
"""

from __future__ import annotations

import numpy as np
import torch

from soundforge.audio.progress import Progress, scaled
from soundforge.audio.separation._dsp import accompaniment_masks
from soundforge.audio.separation._engines import Audio, Emit, EngineKey, JobSettings
from soundforge.audio.separation._pipeline import InputStream, run_windows
from soundforge.audio.separation._spleeter import N_FFT, SAMPLE_RATE, SpleeterVocals
from soundforge.audio.separation.catalog import EMBEDDED_STEMS

__all__ = ["EmbeddedEngine"]


class EmbeddedEngine:
    """Spleeter 2-stem masks plus a DSP split of the accompaniment; stereo 44.1 kHz."""

    normalise = False
    sample_rate = SAMPLE_RATE
    channels = 2

    def __init__(self, key: EngineKey) -> None:
        self.key = key
        self.sources: tuple[str, ...] = EMBEDDED_STEMS
        self._spleeter = SpleeterVocals(key.device)

    def run(
        self, stream: InputStream, emit: Emit, settings: JobSettings, progress: Progress
    ) -> int:
        """Windows of ``settings.window`` frames, crossfaded over ``settings.crossfade``."""
        return run_windows(
            stream,
            self.separate,
            emit,
            window=settings.window,
            overlap=settings.crossfade,
            progress=progress,
        )

    def separate(self, audio: Audio, progress: Progress) -> Audio:
        """One window: ``(2, n)`` → ``(4, 2, n)`` in :data:`EMBEDDED_STEMS` order."""
        length = audio.shape[-1]
        with torch.inference_mode():
            spec = self._spleeter.stft(torch.from_numpy(np.ascontiguousarray(audio)))
            vocals = self._spleeter.vocal_mask(spec, scaled(progress, 0.0, 0.7))
            accompaniment = (1.0 - vocals) * spec.abs()
            mono = accompaniment.mean(dim=0).cpu().numpy()
            del accompaniment
            drums, bass, other = accompaniment_masks(mono, spec.shape[1], SAMPLE_RATE, N_FFT)
            progress(0.8, "splitting accompaniment")
            out = np.empty((len(self.sources), audio.shape[0], length), dtype=np.float32)
            rest = 1.0 - vocals
            masks = {
                "vocals": None,
                "drums": drums,
                "bass": bass,
                "other": other,
            }
            for i, name in enumerate(self.sources):
                split = masks[name]
                mask = vocals if split is None else rest * torch.from_numpy(split).to(rest.device)
                out[i] = self._spleeter.istft(spec * mask, length).cpu().numpy()
                progress(0.8 + 0.2 * (i + 1) / len(self.sources), "rebuilding stems")
        return out
