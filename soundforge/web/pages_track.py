"""The track page, ``/tracks/<id>``: the stem player, the waveform and the analysis panels.

Phoenix's ``DashboardLive :show``, server-rendered: the header, the analysis panels, the
exports and the re-separation form come from :func:`soundforge.music.library.track_detail`
and the stored analysis document, so the page reads complete without JavaScript. What the
player and the waveform need (stem URLs per separation, beats, sections, loops, chords, the
energy curve, the waveform peaks) travels in one ``<script type="application/json">`` data
block that ``web/static/js/track.js`` reads (a data block is not executed, so the strict CSP
allows it). Live pipeline progress arrives over ``/ws`` on the ``track:<id>`` topic; the
player, its mixer and the practice panel follow the track's mixer session on
``mixer:<user id>:track:<id>`` (``soundforge.studio``, ``docs/practice.md``).

Another user's track is a 404 page, the same as a missing one (ownership is enforced in the
library's SQL). Only the fields of the analysis the page shows are decoded (``PageAnalysis``
is a subset of ``soundforge.audio.analysis.schema.Analysis``; unknown fields are ignored),
which keeps librosa and friends out of the web process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import msgspec
from markupsafe import Markup
from quart import Blueprint, render_template

from soundforge.actors import repo
from soundforge.audio.separation.catalog import ModelInfo, list_models
from soundforge.music import (
    AnalysisNotFound,
    InvalidFilter,
    Separation,
    StemView,
    TrackDetail,
    analysis_document,
    compatible_camelot,
    track_detail,
    track_topic,
)
from soundforge.studio import mixers
from soundforge.web.auth import login_required, require_user
from soundforge.web.context import web

__all__ = ["PageAnalysis", "PlayerData", "blueprint", "clock", "script_json"]

blueprint = Blueprint("track_pages", __name__)

#: The order stems appear in the mixer (and keys 1–6 select them); others follow by name.
STEM_ORDER: Final = ("vocals", "drums", "bass", "other", "guitar", "piano")
PIPELINE: Final = (("download", "Download"), ("separate", "Separation"), ("analyze", "Analysis"))
_NEIGHBOURS: Final = ("same key", "one down", "one up", "relative")


# -- the analysis, as far as the page reads it -------------------------------------------------


class _TimeSignature(msgspec.Struct, frozen=True):
    beats_per_bar: int = 4
    confidence: float = 0.0


class _Rhythm(msgspec.Struct, frozen=True):
    confidence: float = 0.0
    half_bpm: float | None = None
    double_bpm: float | None = None
    beat_jitter_ms: float | None = None
    time_signature: _TimeSignature | None = None
    beats_ms: list[int] = []
    downbeats_ms: list[int] = []


class _KeyCandidate(msgspec.Struct, frozen=True):
    key: str
    camelot: str
    score: float


class _Tonality(msgspec.Struct, frozen=True):
    confidence: float = 0.0
    margin: float = 0.0
    tuning_cents: float = 0.0
    candidates: list[_KeyCandidate] = []


class _Loudness(msgspec.Struct, frozen=True):
    range_lu: float | None = None
    true_peak_dbtp: float | None = None
    sample_peak_dbfs: float | None = None
    short_term_max_lufs: float | None = None


class _Curve(msgspec.Struct, frozen=True):
    hop_ms: int
    values: list[float] = []


class _Energy(msgspec.Struct, frozen=True):
    curve: _Curve | None = None


class _Chord(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    label: str


class _Segment(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    label: str
    group: int = 0
    energy: float = 0.0


class _LoopPoint(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int
    bars: int
    beats: int = 0
    score: float = 0.0
    section: str | None = None


class _Marker(msgspec.Struct, frozen=True):
    kind: str
    position_ms: int
    end_ms: int | None = None
    detail: str = ""


class _WaveformLevel(msgspec.Struct, frozen=True):
    samples_per_pixel: int
    length: int
    data: list[int] = []


class _Waveform(msgspec.Struct, frozen=True):
    sample_rate: int
    bits: int = 8
    levels: list[_WaveformLevel] = []


class PageAnalysis(msgspec.Struct, frozen=True):
    """The part of the analysis document (``docs/analysis.md``) the page draws."""

    duration_ms: int = 0
    tempo: float | None = None
    key: str | None = None
    camelot: str | None = None
    loudness_lufs: float | None = None
    rhythm: _Rhythm = _Rhythm()
    tonality: _Tonality = _Tonality()
    loudness: _Loudness = _Loudness()
    energy: _Energy | None = None
    chords: list[_Chord] = []
    structure: list[_Segment] = []
    loops: list[_LoopPoint] = []
    markers: list[_Marker] = []
    waveform: _Waveform | None = None


# -- what track.js reads -----------------------------------------------------------------------


class StemLink(msgspec.Struct, frozen=True):
    id: str
    name: str
    format: str
    url: str
    download_url: str


class SeparationView(msgspec.Struct, frozen=True):
    key: str  # "engine/model", unique per track
    engine: str
    model: str
    label: str
    zip_url: str
    stems: list[StemLink]


class CueView(msgspec.Struct, frozen=True):
    position_ms: int
    label: str | None
    kind: str
    color: str | None


class PlayerData(msgspec.Struct, frozen=True):
    track_id: str
    #: The signed-in user (the owner): mixer ops and presets are theirs.
    user_id: str
    title: str
    status: str
    #: Why the pipeline gave up, while the status is failed.
    error: str | None
    duration_ms: int | None
    topic: str
    #: The track's mixer session topic, ``mixer:<user id>:track:<id>``.
    mixer_topic: str
    separations: list[SeparationView]
    selected: str | None
    cues: list[CueView]
    analysis: PageAnalysis | None


# -- building the page -------------------------------------------------------------------------


def clock(ms: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour) of a position in milliseconds; "–" for none."""
    if ms is None:
        return "–"
    seconds = max(0, round(ms / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def script_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``."""
    text = msgspec.json.encode(value).decode()
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Markup(text)


def _stem_rank(name: str) -> tuple[int, str]:
    return (STEM_ORDER.index(name) if name in STEM_ORDER else len(STEM_ORDER), name)


def _separation_view(track_id: str, separation: Separation) -> SeparationView:
    # Re-renders of a stem are versions above 1; the mixer plays each stem's original.
    first: dict[str, StemView] = {}
    for stem in separation.stems:
        if stem.stem not in first or stem.version < first[stem.stem].version:
            first[stem.stem] = stem
    stems = [
        StemLink(
            id=stem.id,
            name=stem.stem,
            format=stem.format,
            url=f"/api/v1/stems/{stem.id}/audio",
            download_url=f"/api/v1/stems/{stem.id}/audio?download=1",
        )
        for stem in sorted(first.values(), key=lambda s: _stem_rank(s.stem))
    ]
    return SeparationView(
        key=f"{separation.engine}/{separation.model}",
        engine=separation.engine,
        model=separation.model,
        label=f"{separation.model} ({separation.engine})",
        zip_url=f"/api/v1/tracks/{track_id}/stems.zip?model={quote(separation.model, safe='')}",
        stems=stems,
    )


def _neighbours(camelot: str | None) -> list[tuple[str, str]]:
    if not camelot:
        return []
    try:
        codes = compatible_camelot(camelot)
    except InvalidFilter:  # a code the analysis should never have stored
        return []
    return list(zip(codes, _NEIGHBOURS, strict=True))


def _chord_changes(chords: Iterable[_Chord]) -> list[_Chord]:
    """Consecutive spans of one chord merged; "N" (no chord) left out."""
    merged: list[_Chord] = []
    for chord in chords:
        if merged and merged[-1].label == chord.label:
            merged[-1] = _Chord(merged[-1].start_ms, chord.end_ms, chord.label)
        else:
            merged.append(chord)
    return [chord for chord in merged if chord.label != "N"]


def _stages(detail: TrackDetail) -> list[dict[str, Any]]:
    """Each pipeline stage with its latest job, "waiting" where none has run yet."""
    by_stage = {stage.stage: stage for stage in detail.stages}
    rows = []
    for name, title in PIPELINE:
        stage = by_stage.get(name)
        rows.append(
            {
                "name": name,
                "title": title,
                "state": stage.state if stage else "waiting",
                "progress": stage.progress if stage else 0.0,
                "label": (stage.label if stage else None) or "",
                "error": stage.error if stage else None,
                "job_id": stage.job_id if stage else None,
                "attempt": stage.attempt if stage else 0,
                "max_attempts": stage.max_attempts if stage else 0,
            }
        )
    return rows


async def _models(data_dir: Path) -> list[ModelInfo]:
    # list_models looks for weights on disk: off the event loop.
    return await asyncio.to_thread(list_models, data_dir / "models")


@blueprint.get("/tracks/<track_id>")
@login_required
async def track_page(track_id: str) -> str:
    user = require_user()
    context = web()
    async with repo.connection(context.repo) as conn:
        detail = await track_detail(conn, user.id, track_id)
        document: dict[str, Any] | None = None
        if detail.analysis is not None:
            try:
                document = await analysis_document(conn, user.id, detail.id)
            except AnalysisNotFound:
                document = None
    analysis = None if document is None else msgspec.convert(document, PageAnalysis)
    separations = [_separation_view(detail.id, s) for s in detail.separations]
    data = PlayerData(
        track_id=detail.id,
        user_id=user.id,
        title=detail.title,
        status=detail.status,
        error=detail.error,
        duration_ms=detail.duration_ms or (analysis.duration_ms if analysis else None),
        topic=track_topic(detail.id),
        mixer_topic=mixers.topic(user.id, f"track:{detail.id}"),
        separations=separations,
        selected=separations[0].key if separations else None,
        cues=[CueView(c.position_ms, c.label, c.kind, c.color) for c in detail.cue_points],
        analysis=analysis,
    )
    return await render_template(
        "track.html",
        track=detail,
        analysis=analysis,
        separation=separations[0] if separations else None,
        separations=separations,
        neighbours=_neighbours(detail.camelot),
        chords=_chord_changes(analysis.chords) if analysis else [],
        stages=_stages(detail),
        models=await _models(context.data_dir),
        player_json=script_json(data),
        clock=clock,
    )
