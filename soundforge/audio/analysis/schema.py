"""The analysis JSON contract: one versioned msgspec schema for analyzer, database and UI.

Every consumer reads the same :class:`Analysis` Struct: the analyzer port builds it, the
job worker stores it (promoting ``tempo``, ``key``, ``camelot``, ``loudness_lufs`` and
``duration_ms`` to columns) and the UI draws it. :func:`encode` / :func:`decode` are the
only way it crosses a process boundary, and :func:`decode` enforces the database's CHECK
constraints (tempo range, key and Camelot spelling, finite loudness) so a row that decodes
can always be inserted.

Units, everywhere: **positions and durations are integer milliseconds** (fields end in
``_ms``); frequencies are Hz; levels are dB (``_db``/``_dbfs``/``_dbtp``), LUFS or LU.
Floats are rounded to a few decimals to keep the JSON small. "No value" is ``null``,
never NaN or infinity (the LUFS of silence is ``null``).

Versioning: :data:`ANALYSIS_VERSION` is bumped when a field is removed, renamed or changes
meaning; adding a field with a default is not a new version. :func:`decode` refuses a
version it does not know with :class:`AnalysisFormatError` (re-run the analysis).

    data = encode(analysis)          # bytes of JSON
    again = decode(data)             # Analysis, with the DB constraints checked
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from soundforge.audio.errors import AudioError

__all__ = [
    "ANALYSIS_VERSION",
    "CAMELOT_PATTERN",
    "KEY_PATTERN",
    "SECTION_LABELS",
    "Analysis",
    "AnalysisFormatError",
    "Bar",
    "Chord",
    "Curve",
    "Drums",
    "Energy",
    "KeyCandidate",
    "LoopPoint",
    "Loudness",
    "Marker",
    "MarkerKind",
    "Pitch",
    "Rhythm",
    "Section",
    "Segment",
    "Spectral",
    "Stats",
    "TempoCandidate",
    "Timbre",
    "TimeSignature",
    "Tonality",
    "Waveform",
    "WaveformLevel",
    "decode",
    "encode",
]

#: The version written into every analysis; see the module docstring for the policy.
ANALYSIS_VERSION: Final = 1

#: The database's CHECK on ``key``.
KEY_PATTERN: Final = r"^[A-G](#|b)? (major|minor)$"
#: The database's CHECK on ``camelot``.
CAMELOT_PATTERN: Final = r"^([1-9]|1[0-2])[AB]$"

Section = Literal["intro", "verse", "chorus", "bridge", "breakdown", "build-up", "drop", "outro"]
SECTION_LABELS: Final[tuple[Section, ...]] = (
    "intro",
    "verse",
    "chorus",
    "bridge",
    "breakdown",
    "build-up",
    "drop",
    "outro",
)
MarkerKind = Literal["drop", "build-up", "breakdown", "key-change"]
Mode = Literal["major", "minor"]

Ms = Annotated[int, msgspec.Meta(ge=0)]
Bpm = Annotated[float, msgspec.Meta(gt=0, lt=1000)]
KeyName = Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]
CamelotCode = Annotated[str, msgspec.Meta(pattern=CAMELOT_PATTERN)]
Lufs = Annotated[float, msgspec.Meta(gt=-200, lt=30)]
Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]


class AnalysisFormatError(AudioError):
    """Stored analysis JSON that this version of SoundForge cannot read."""


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of a frame-wise feature over the whole track."""

    mean: float
    std: float
    min: float
    max: float


class TempoCandidate(msgspec.Struct, frozen=True, kw_only=True):
    """A tempo hypothesis and its periodicity strength (0..1, relative to the best)."""

    bpm: Bpm
    strength: Unit


class TimeSignature(msgspec.Struct, frozen=True, kw_only=True):
    """Beats per bar (3 or 4) over ``beat_unit`` (always 4), and how sure we are (0..1)."""

    beats_per_bar: int
    beat_unit: int = 4
    confidence: Unit = 0.0


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """One bar: ``index`` from 0 at the first downbeat, start and end in ms."""

    index: int
    start_ms: Ms
    end_ms: Ms


class Rhythm(msgspec.Struct, frozen=True, kw_only=True):
    """Beat grid and tempo details (the tempo itself is the top-level ``tempo``)."""

    confidence: Unit = 0.0
    half_bpm: Bpm | None = None
    double_bpm: Bpm | None = None
    candidates: list[TempoCandidate] = []
    #: RMS distance of the tracked beats from a straight grid (ms); small = steady tempo.
    beat_jitter_ms: float | None = None
    time_signature: TimeSignature | None = None
    beats_ms: list[Ms] = []
    downbeats_ms: list[Ms] = []
    bars: list[Bar] = []


class KeyCandidate(msgspec.Struct, frozen=True, kw_only=True):
    """A key and its profile correlation (-1..1)."""

    key: KeyName
    camelot: CamelotCode
    score: float


class Tonality(msgspec.Struct, frozen=True, kw_only=True):
    """Key details (the key itself is the top-level ``key``/``camelot``)."""

    tonic: str | None = None
    mode: Mode | None = None
    #: Best profile correlation, clipped to 0..1.
    confidence: Unit = 0.0
    #: (best - second best) / best correlation: near 0 means an ambiguous key.
    margin: Unit = 0.0
    #: Detected deviation of the tuning from A = 440 Hz, in cents (-50..50).
    tuning_cents: float = 0.0
    profile: str = ""
    candidates: list[KeyCandidate] = []


class Chord(msgspec.Struct, frozen=True, kw_only=True):
    """A chord span: ``label`` like "C", "F#m", or "N" (no chord)."""

    start_ms: Ms
    end_ms: Ms
    label: str
    root: str | None = None
    quality: Literal["maj", "min"] | None = None
    confidence: Unit = 0.0


class Loudness(msgspec.Struct, frozen=True, kw_only=True):
    """EBU R128 figures besides the integrated loudness (top-level ``loudness_lufs``)."""

    range_lu: float | None = None
    true_peak_dbtp: float | None = None
    sample_peak_dbfs: float | None = None
    short_term_max_lufs: Lufs | None = None
    momentary_max_lufs: Lufs | None = None


class Curve(msgspec.Struct, frozen=True, kw_only=True):
    """Values at ``hop_ms`` intervals from 0 ms (value i covers [i*hop, (i+1)*hop))."""

    hop_ms: int
    values: list[float] = []


class Energy(msgspec.Struct, frozen=True, kw_only=True):
    """RMS energy of the mono mix (linear, full scale = 1.0) and its curve over time."""

    rms: Stats
    rms_db: Stats
    curve: Curve


class Spectral(msgspec.Struct, frozen=True, kw_only=True):
    """Spectral shape of the mono mix at 22.05 kHz, summarised over frames."""

    centroid_hz: Stats
    rolloff_hz: Stats
    bandwidth_hz: Stats
    flatness: Stats
    zero_crossing_rate: Stats
    #: Mean spectral contrast per octave band (dB), 7 values, low to high.
    contrast_db: list[float] = []


class Timbre(msgspec.Struct, frozen=True, kw_only=True):
    """MFCC and chroma summaries; chroma index 0 is C, 11 is B."""

    mfcc_mean: list[float] = []
    mfcc_std: list[float] = []
    chroma_mean: list[float] = []
    chroma_std: list[float] = []


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    """A structural section; segments cover the track in order without gaps."""

    start_ms: Ms
    end_ms: Ms
    label: Section
    #: Segments with the same group sound alike (repetition group, 0-based).
    group: int
    #: Mean RMS relative to the loudest segment (0..1).
    energy: Unit
    confidence: Unit = 0.0


class LoopPoint(msgspec.Struct, frozen=True, kw_only=True):
    """A bar-aligned loop candidate; ``score`` = weighted repetition, seam and energy."""

    start_ms: Ms
    end_ms: Ms
    start_bar: int
    bars: int
    beats: int
    score: Unit
    repetition: Unit
    seam: Unit
    energy: Unit
    section: Section | None = None


class Marker(msgspec.Struct, frozen=True, kw_only=True):
    """An arrangement event: a drop, a build-up, a breakdown or a key change."""

    kind: MarkerKind
    position_ms: Ms
    end_ms: Ms | None = None
    intensity: Unit = 0.0
    detail: str = ""


class WaveformLevel(msgspec.Struct, frozen=True, kw_only=True):
    """Min/max pairs per bin, interleaved ``[min0, max0, min1, max1, ...]``, 8-bit signed.

    This is the audiowaveform/peaks.js "data" layout: ``length`` bins of
    ``samples_per_pixel`` source samples each, values in -128..127 (full scale = 128).
    """

    samples_per_pixel: int
    length: int
    data: list[int] = []


class Waveform(msgspec.Struct, frozen=True, kw_only=True):
    """Peaks of all channels together at several zoom levels, coarse to fine."""

    sample_rate: int
    bits: int = 8
    levels: list[WaveformLevel] = []


class Drums(msgspec.Struct, frozen=True, kw_only=True):
    """Onsets found in the drums stem, and their split into kick, snare and hi-hat."""

    onsets_ms: list[Ms] = []
    kick_ms: list[Ms] = []
    snare_ms: list[Ms] = []
    hat_ms: list[Ms] = []


class Pitch(msgspec.Struct, frozen=True, kw_only=True):
    """Predominant f0 by pYIN (opt-in): ``f0_hz`` per hop, 0.0 where unvoiced."""

    hop_ms: float
    f0_hz: list[float] = []
    voiced_fraction: Unit = 0.0
    median_hz: float | None = None


class Analysis(msgspec.Struct, frozen=True, kw_only=True):
    """The whole analysis of one track (version :data:`ANALYSIS_VERSION`)."""

    version: int = ANALYSIS_VERSION
    duration_ms: Ms
    #: The file's own sample rate and channel count (analysis runs on a 22.05 kHz mono mix).
    sample_rate: int
    channels: int
    tempo: Bpm | None = None
    key: KeyName | None = None
    camelot: CamelotCode | None = None
    loudness_lufs: Lufs | None = None
    rhythm: Rhythm = Rhythm()
    tonality: Tonality = Tonality()
    chords: list[Chord] = []
    loudness: Loudness = Loudness()
    energy: Energy | None = None
    spectral: Spectral | None = None
    timbre: Timbre = Timbre()
    structure: list[Segment] = []
    loops: list[LoopPoint] = []
    markers: list[Marker] = []
    waveform: Waveform | None = None
    drums: Drums | None = None
    pitch: Pitch | None = None


class _Versioned(msgspec.Struct):
    version: int = 0


def encode(analysis: Analysis) -> bytes:
    """The analysis as compact JSON bytes."""
    return msgspec.json.encode(analysis)


def decode(data: bytes | str) -> Analysis:
    """Parse JSON written by :func:`encode`, checking the version and the DB constraints."""
    try:
        version = msgspec.json.decode(data, type=_Versioned).version
    except msgspec.DecodeError as error:
        raise AnalysisFormatError(f"the stored analysis is not valid JSON ({error})") from error
    if version != ANALYSIS_VERSION:
        raise AnalysisFormatError(
            f"the stored analysis has format version {version}, but this SoundForge reads "
            f"version {ANALYSIS_VERSION}; analyse the track again"
        )
    try:
        return msgspec.json.decode(data, type=Analysis)
    except msgspec.ValidationError as error:
        raise AnalysisFormatError(
            f"the stored analysis does not fit the schema: {error}"
        ) from error
