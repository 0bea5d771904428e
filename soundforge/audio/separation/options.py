"""What a separation job asks for and what it produced: typed values that cross the port.

:class:`SeparationOptions` is the job's request (engine, model, device, demucs knobs, output
format); :class:`SeparationResult` is the reply, listing every stem file written with enough
facts (rate, channels, bit depth, duration, size) for the server to record database rows
without opening the files again. Both are ``msgspec`` structs, so the port program sends them
as msgpack/JSON unchanged.

    options = SeparationOptions(engine="demucs", model="htdemucs_6s", format="flac", bit_depth=24)
    check_options(options)          # raises InvalidSeparationOptions with one clear sentence
"""

from __future__ import annotations

import math
from typing import Final, Literal

import msgspec

from soundforge.audio.errors import AudioError

__all__ = [
    "DEFAULT_DEMUCS_MODEL",
    "EMBEDDED_MODEL",
    "ENGINES",
    "Device",
    "EngineName",
    "InvalidSeparationOptions",
    "OutputFormat",
    "SeparationOptions",
    "SeparationResult",
    "SeparationTiming",
    "StemFile",
    "check_options",
]

EngineName = Literal["auto", "default", "demucs"]
Device = Literal["auto", "cpu", "cuda"]
OutputFormat = Literal["wav", "flac", "mp3"]

#: The engines a job may name: ``auto`` picks demucs when its weights are at hand.
ENGINES: Final[tuple[EngineName, ...]] = ("auto", "default", "demucs")
#: The demucs model used when a job names none.
DEFAULT_DEMUCS_MODEL: Final = "htdemucs"
#: The embedded engine's only model: Spleeter's 2-stem U-Nets, then a DSP split of the rest.
EMBEDDED_MODEL: Final = "spleeter-dsp"

_BIT_DEPTHS: Final = {"wav": (16, 24, 32), "flac": (16, 24), "mp3": (16, 24, 32)}


class InvalidSeparationOptions(AudioError):
    """A job asked for something no engine can do (an unknown format, a negative shift...)."""

    status = 400


class SeparationOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One separation job's settings; every field has a sensible default.

    ``model`` None means the engine's default (``htdemucs`` for demucs). ``segment``,
    ``shifts`` and ``overlap`` are demucs' own knobs and are ignored by the embedded engine.
    ``models_dir`` is a demucs ``--repo``-style folder (``<data>/models``) searched before
    demucs' caches; None uses the :class:`~.separator.Separator`'s. ``download`` allows
    fetching demucs weights when online. Long inputs are processed in windows of
    ``chunk_seconds`` that overlap by ``chunk_overlap`` seconds, crossfaded, so memory does
    not grow with the file's length.
    """

    engine: EngineName = "auto"
    model: str | None = None
    device: Device = "auto"
    segment: float | None = None
    shifts: int = 1
    overlap: float = 0.25
    format: OutputFormat = "wav"
    bit_depth: int = 16
    models_dir: str | None = None
    download: bool = True
    chunk_seconds: float = 30.0
    chunk_overlap: float = 2.0


class StemFile(msgspec.Struct, frozen=True, kw_only=True):
    """One stem written: ``path`` is absolute, ``filename`` relative to the output folder.

    ``bit_depth`` is None for MP3 (a lossy stream has no sample depth).
    """

    name: str
    path: str
    filename: str
    format: OutputFormat
    sample_rate: int
    channels: int
    bit_depth: int | None
    duration_ms: int
    size_bytes: int


class SeparationTiming(msgspec.Struct, frozen=True, kw_only=True):
    """Wall-clock seconds: model load (0 when the model was already warm), the separation
    itself (reading, inference, writing), the whole call; and ``realtime_factor`` =
    separation seconds per second of audio."""

    load_s: float
    separate_s: float
    total_s: float
    audio_s: float
    realtime_factor: float


class SeparationResult(msgspec.Struct, frozen=True, kw_only=True):
    """What ran and what it wrote.

    ``engine``/``model``/``device`` are the ones that actually ran (``auto`` resolved);
    ``fallback_reason`` says in one sentence why ``auto`` did not use demucs, else None.
    ``chunks`` is how many windows the input was processed in.
    """

    engine: Literal["default", "demucs"]
    model: str
    device: Literal["cpu", "cuda"]
    stems: list[StemFile]
    output_dir: str
    timing: SeparationTiming
    model_cached: bool
    chunks: int
    fallback_reason: str | None = None


def _bad(message: str) -> InvalidSeparationOptions:
    return InvalidSeparationOptions(message)


def check_options(options: SeparationOptions) -> None:
    """Raise InvalidSeparationOptions, in one sentence, for settings that cannot work."""
    if options.engine not in ENGINES:
        raise _bad(f"unknown separation engine {options.engine!r}; use one of {', '.join(ENGINES)}")
    if options.device not in ("auto", "cpu", "cuda"):
        raise _bad(f"unknown device {options.device!r}; use auto, cpu or cuda")
    if options.format not in _BIT_DEPTHS:
        raise _bad(f"unknown stem format {options.format!r}; use wav, flac or mp3")
    if options.bit_depth not in _BIT_DEPTHS[options.format]:
        allowed = ", ".join(str(b) for b in _BIT_DEPTHS[options.format])
        raise _bad(f"{options.format} stems cannot have {options.bit_depth} bits; use {allowed}")
    if options.shifts < 0 or options.shifts > 20:
        raise _bad(f"shifts must be between 0 and 20, not {options.shifts}")
    if not 0.0 <= options.overlap < 1.0:
        raise _bad(f"overlap must be at least 0 and below 1, not {options.overlap}")
    if options.segment is not None and not (math.isfinite(options.segment) and options.segment > 0):
        raise _bad(f"segment must be a positive number of seconds, not {options.segment}")
    if not (math.isfinite(options.chunk_seconds) and options.chunk_seconds >= 1.0):
        raise _bad(f"chunk_seconds must be at least 1 second, not {options.chunk_seconds}")
    if not 0.0 <= options.chunk_overlap <= options.chunk_seconds / 2:
        raise _bad(
            "chunk_overlap must be between 0 and half of chunk_seconds, "
            f"not {options.chunk_overlap}"
        )
    if options.model is not None and not _is_model_name(options.model):
        raise _bad(f"{options.model!r} is not a model name (letters, digits, . _ + - only)")


def _is_model_name(name: str) -> bool:
    return 0 < len(name) <= 100 and all(c.isascii() and (c.isalnum() or c in "._+-") for c in name)
