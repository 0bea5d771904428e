"""What an agent knows about a track: the facts of its analysis, stems and cues, gathered
from the database and written compactly into the prompt.

The original product's agents received only the user's words; here every agent that works
on a track gets :func:`track_context` rendered by :func:`render_context` in its system
prompt: title, artists and duration; tempo with its confidence and octave alternatives; key,
Camelot code and its mixable neighbours; loudness; an energy summary (per section and a
coarse curve); the structure with times; the best loop points; markers (drops, build-ups);
the chord vocabulary; the stems that exist (engine and model); and the saved cue points and
loops. Times are integer milliseconds, as in the analysis (``docs/analysis.md``).

Reading is per user: a track that is not the user's is ``TrackNotFound``, as in the
library. A track without an analysis still has a context (``analysed`` false), so an agent
can say what is missing.

    context = await track_context(conn, user.id, track_id)
    system = PROMPT + "\n\n" + render_context(context)
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from soundforge.agents.camelot import Neighbour, neighbours, parse_camelot
from soundforge.music.library import AnalysisNotFound, analysis_document, track_detail

__all__ = [
    "CueFact",
    "EnergySummary",
    "KeyFacts",
    "LoopFact",
    "MarkerFact",
    "SectionFact",
    "StemSet",
    "TempoFacts",
    "TrackContext",
    "context_from",
    "render_context",
    "track_context",
]

#: Points of the coarse energy curve given to the model.
CURVE_POINTS: Final = 16
#: Loop points and chords kept (the analysis has up to 8 loops; chords are summarised).
MAX_LOOPS: Final = 6
MAX_CHORDS: Final = 8


# -- the analysis document, read tolerantly ---------------------------------------------------
# A view of the parts of docs/analysis.md the agents use. Every field has a default, so an
# older or partial document (or a test's minimal one) reads as "unknown" instead of failing.


class _Stats(msgspec.Struct, frozen=True):
    mean: float = 0.0


class _Curve(msgspec.Struct, frozen=True):
    hop_ms: int = 500
    values: list[float] = []


class _Energy(msgspec.Struct, frozen=True):
    rms_db: _Stats = _Stats()
    curve: _Curve = _Curve()


class _TimeSignature(msgspec.Struct, frozen=True):
    beats_per_bar: int = 4


class _Rhythm(msgspec.Struct, frozen=True):
    confidence: float | None = None
    half_bpm: float | None = None
    double_bpm: float | None = None
    beat_jitter_ms: float | None = None
    time_signature: _TimeSignature | None = None
    downbeats_ms: list[int] = []


class _KeyCandidate(msgspec.Struct, frozen=True):
    key: str
    camelot: str
    score: float = 0.0


class _Tonality(msgspec.Struct, frozen=True):
    confidence: float | None = None
    margin: float | None = None
    candidates: list[_KeyCandidate] = []


class _Loudness(msgspec.Struct, frozen=True):
    range_lu: float | None = None
    true_peak_dbtp: float | None = None


class _Segment(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    label: str
    group: int = 0
    energy: float | None = None


class _LoopPoint(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    bars: int | None = None
    score: float | None = None
    section: str | None = None


class _Marker(msgspec.Struct, frozen=True):
    kind: str
    position_ms: int
    end_ms: int | None = None
    intensity: float | None = None
    detail: str = ""


class _Chord(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    label: str


class _Document(msgspec.Struct, frozen=True):
    rhythm: _Rhythm = _Rhythm()
    tonality: _Tonality = _Tonality()
    loudness: _Loudness = _Loudness()
    energy: _Energy | None = None
    structure: list[_Segment] = []
    loops: list[_LoopPoint] = []
    markers: list[_Marker] = []
    chords: list[_Chord] = []


# -- the context ------------------------------------------------------------------------------


class TempoFacts(msgspec.Struct, frozen=True, omit_defaults=True):
    bpm: float
    confidence: float | None = None
    half_bpm: float | None = None
    double_bpm: float | None = None
    beats_per_bar: int | None = None
    #: RMS distance of the beats from a straight grid; under 15 ms is a steady (programmed)
    #: tempo.
    beat_jitter_ms: float | None = None


class KeyFacts(msgspec.Struct, frozen=True, omit_defaults=True):
    key: str
    camelot: str | None = None
    confidence: float | None = None
    #: Near 0: ambiguous between the top candidates (often the relative key).
    margin: float | None = None
    #: The keys that mix harmonically with this one (same, ±1, relative).
    compatible: list[Neighbour] = []
    alternatives: list[str] = []


class SectionFact(msgspec.Struct, frozen=True, omit_defaults=True):
    label: str
    start_ms: int
    end_ms: int
    at: str
    #: Relative to the loudest section (0..1).
    energy: float | None = None
    #: Sections with the same group sound alike.
    group: int | None = None


class EnergySummary(msgspec.Struct, frozen=True, omit_defaults=True):
    mean_rms_db: float | None = None
    #: The track's loudness over time in CURVE_POINTS equal steps, 0..1 of its maximum.
    curve: list[float] = []
    curve_step_ms: int | None = None
    peak_section: str | None = None


class LoopFact(msgspec.Struct, frozen=True, omit_defaults=True):
    start_ms: int
    end_ms: int
    bars: float | None = None
    score: float | None = None
    section: str | None = None
    label: str | None = None
    stem: str | None = None
    source: str | None = None


class MarkerFact(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: str
    position_ms: int
    at: str
    end_ms: int | None = None
    intensity: float | None = None
    detail: str | None = None


class CueFact(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: str
    position_ms: int
    at: str
    hot_index: int | None = None
    label: str | None = None
    source: str | None = None


class StemSet(msgspec.Struct, frozen=True):
    engine: str
    model: str
    stems: list[str]


class TrackContext(msgspec.Struct, frozen=True, omit_defaults=True):
    track_id: str
    title: str
    artists: list[str]
    status: str
    analysed: bool
    duration_ms: int | None = None
    duration: str | None = None
    album: str | None = None
    tempo: TempoFacts | None = None
    key: KeyFacts | None = None
    loudness_lufs: float | None = None
    loudness_range_lu: float | None = None
    true_peak_dbtp: float | None = None
    energy: EnergySummary | None = None
    structure: list[SectionFact] = []
    markers: list[MarkerFact] = []
    analysis_loops: list[LoopFact] = []
    chords: list[str] = []
    first_downbeat_ms: int | None = None
    stems: list[StemSet] = []
    cue_points: list[CueFact] = []
    saved_loops: list[LoopFact] = []


def clock(ms: int) -> str:
    """``61500`` → ``"1:01.5"``: how a person reads a position."""
    seconds, tenths = divmod(round(ms / 100), 10)
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}.{tenths}"


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _curve(energy: _Energy) -> tuple[list[float], int | None]:
    values = energy.curve.values
    if not values:
        return [], None
    step = max(1, -(-len(values) // CURVE_POINTS))  # ceil: at most CURVE_POINTS points
    means = [
        sum(values[i : i + step]) / len(values[i : i + step]) for i in range(0, len(values), step)
    ]
    top = max(means) or 1.0
    return [round(v / top, 2) for v in means], step * energy.curve.hop_ms


def _chords(chords: list[_Chord]) -> list[str]:
    """The chords that fill most of the track, longest first (no-chord spans left out)."""
    time: dict[str, int] = {}
    for chord in chords:
        if chord.label != "N":
            time[chord.label] = time.get(chord.label, 0) + max(0, chord.end_ms - chord.start_ms)
    return [label for label, _ in sorted(time.items(), key=lambda kv: -kv[1])[:MAX_CHORDS]]


def context_from(detail: Any, document: dict[str, Any] | None) -> TrackContext:
    """The context of a track from its library detail (``track_detail``) and its analysis
    document (None when it has none); pure, for tests and for callers holding both."""
    doc = msgspec.convert(document or {}, _Document, strict=False)
    analysis = detail.analysis
    duration = detail.duration_ms or (analysis.duration_ms if analysis is not None else None)
    tempo = key = energy = None
    if analysis is not None and analysis.tempo_bpm is not None:
        signature = doc.rhythm.time_signature
        tempo = TempoFacts(
            bpm=round(analysis.tempo_bpm, 2),
            confidence=_rounded(doc.rhythm.confidence),
            half_bpm=_rounded(doc.rhythm.half_bpm),
            double_bpm=_rounded(doc.rhythm.double_bpm),
            beats_per_bar=signature.beats_per_bar if signature is not None else None,
            beat_jitter_ms=_rounded(doc.rhythm.beat_jitter_ms, 1),
        )
    if analysis is not None and analysis.key is not None:
        code = analysis.camelot if parse_camelot(analysis.camelot) else None
        key = KeyFacts(
            key=analysis.key,
            camelot=code,
            confidence=_rounded(doc.tonality.confidence),
            margin=_rounded(doc.tonality.margin),
            compatible=neighbours(code) if code is not None else [],
            alternatives=[
                f"{c.key} ({c.camelot})" for c in doc.tonality.candidates if c.key != analysis.key
            ],
        )
    if doc.energy is not None or doc.structure:
        curve, step = _curve(doc.energy) if doc.energy is not None else ([], None)
        loudest = max(doc.structure, key=lambda s: s.energy or 0.0, default=None)
        energy = EnergySummary(
            mean_rms_db=_rounded(doc.energy.rms_db.mean, 1) if doc.energy is not None else None,
            curve=curve,
            curve_step_ms=step,
            peak_section=(
                f"{loudest.label} at {clock(loudest.start_ms)}" if loudest is not None else None
            ),
        )
    stems = {
        (s.engine, s.model): [v.stem for v in s.stems if v.version == 1] for s in detail.separations
    }
    return TrackContext(
        track_id=detail.id,
        title=detail.title,
        artists=list(detail.artists),
        status=detail.status,
        analysed=analysis is not None,
        duration_ms=duration,
        duration=clock(duration) if duration is not None else None,
        album=detail.album,
        tempo=tempo,
        key=key,
        loudness_lufs=_rounded(analysis.loudness_lufs, 1) if analysis is not None else None,
        loudness_range_lu=_rounded(doc.loudness.range_lu, 1),
        true_peak_dbtp=_rounded(doc.loudness.true_peak_dbtp, 1),
        energy=energy,
        structure=[
            SectionFact(
                s.label, s.start_ms, s.end_ms, clock(s.start_ms), _rounded(s.energy), s.group
            )
            for s in doc.structure
        ],
        markers=[
            MarkerFact(
                m.kind,
                m.position_ms,
                clock(m.position_ms),
                m.end_ms,
                _rounded(m.intensity),
                m.detail or None,
            )
            for m in doc.markers
        ],
        analysis_loops=[
            LoopFact(lp.start_ms, lp.end_ms, lp.bars, _rounded(lp.score), lp.section)
            for lp in doc.loops[:MAX_LOOPS]
        ],
        chords=_chords(doc.chords),
        first_downbeat_ms=doc.rhythm.downbeats_ms[0] if doc.rhythm.downbeats_ms else None,
        stems=[StemSet(engine, model, names) for (engine, model), names in stems.items() if names],
        cue_points=[
            CueFact(c.kind, c.position_ms, clock(c.position_ms), c.hot_index, c.label, c.source)
            for c in detail.cue_points
        ],
        saved_loops=[
            LoopFact(
                lp.start_ms,
                lp.end_ms,
                lp.bars,
                _rounded(lp.score),
                label=lp.label,
                stem=_stem_name(detail, lp.stem_id),
                source=lp.source,
            )
            for lp in detail.loops
        ],
    )


def _stem_name(detail: Any, stem_id: str | None) -> str | None:
    if stem_id is None:
        return None
    for separation in detail.separations:
        for stem in separation.stems:
            if stem.id == stem_id:
                return f"{stem.stem} ({separation.model})"
    return None


async def track_context(conn: Any, user_id: str, track_id: str) -> TrackContext:
    """The context of the user's track; ``TrackNotFound`` when it is not theirs."""
    detail = await track_detail(conn, user_id, track_id)
    try:
        document: dict[str, Any] | None = await analysis_document(conn, user_id, track_id)
    except AnalysisNotFound:
        document = None
    return context_from(detail, document)


_encoder = msgspec.json.Encoder()


def render_context(context: TrackContext) -> str:
    """The context as the prompt carries it: a short heading and one compact JSON object."""
    heading = (
        "The track the user is looking at, from SoundForge's own analysis "
        "(times in milliseconds; `at` is m:ss.t):"
    )
    return f"{heading}\n{_encoder.encode(context).decode()}"
