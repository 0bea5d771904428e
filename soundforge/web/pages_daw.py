"""The DAW page, ``/tracks/<id>/daw``: one lane per stem on the beat grid, region edits,
undo and redo, preview playback and renders.

Server-rendered like the track page (``pages_track``): the lanes of one separation come
from :func:`soundforge.music.daw.track_lanes` (the edit lists, clips, renders and any
render still running) and the beat grid from the stored analysis document (only its rhythm is
decoded: ``GridAnalysis``). Everything ``web/static/js/daw.js`` needs travels in
the ``#daw-data`` JSON block; the page draws the waveforms from the decoded stem audio, so
no peaks are stored. Edits go through ``/api/v1/stems/<id>/edits``; render progress arrives
on ``track:<id>`` over ``/ws``.

``?separation=<engine>/<model>`` picks a separation; the newest is the default. Another
user's track is a 404 page, the same as a missing one.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from quart import Blueprint, render_template, request

from soundforge.actors import repo
from soundforge.music import AnalysisNotFound, analysis_document, track_detail, track_topic
from soundforge.music.daw import Lane, track_lanes
from soundforge.web.auth import login_required, require_user
from soundforge.web.context import web
from soundforge.web.pages_track import STEM_ORDER, clock, script_json

__all__ = ["DawData", "GridAnalysis", "SeparationChoice", "blueprint"]

log = logging.getLogger(__name__)

blueprint = Blueprint("daw_pages", __name__)


class SeparationChoice(msgspec.Struct, frozen=True):
    key: str  # "engine/model"
    label: str
    selected: bool


class DawData(msgspec.Struct, frozen=True):
    """What daw.js reads from ``#daw-data``."""

    track_id: str
    title: str
    topic: str
    duration_ms: int | None
    bpm: float | None
    beats_per_bar: int
    beats_ms: list[int]
    downbeats_ms: list[int]
    separation: str | None
    lanes: list[Lane]


class _TimeSignature(msgspec.Struct, frozen=True):
    beats_per_bar: int = 4


class _Rhythm(msgspec.Struct, frozen=True):
    beats_ms: list[int] = []
    downbeats_ms: list[int] = []
    time_signature: _TimeSignature | None = None


class GridAnalysis(msgspec.Struct, frozen=True):
    """The part of the analysis document (``docs/analysis.md``) the grid is drawn from."""

    duration_ms: int = 0
    rhythm: _Rhythm = _Rhythm()


def _analysis(document: dict[str, Any] | None) -> GridAnalysis | None:
    if document is None:
        return None
    try:
        return msgspec.convert(document, GridAnalysis)
    except msgspec.ValidationError as error:  # a document of another shape: no grid
        log.warning("the analysis document has no usable beat grid: %s", error)
        return None


def _grid(analysis: GridAnalysis | None) -> tuple[list[int], list[int], int]:
    if analysis is None:
        return [], [], 4
    rhythm = analysis.rhythm
    signature = rhythm.time_signature
    return rhythm.beats_ms, rhythm.downbeats_ms, signature.beats_per_bar if signature else 4


def _stem_rank(name: str) -> tuple[int, str]:
    return (STEM_ORDER.index(name) if name in STEM_ORDER else len(STEM_ORDER), name)


@blueprint.get("/tracks/<track_id>/daw")
@login_required
async def daw_page(track_id: str) -> str:
    user = require_user()
    wanted = request.args.get("separation", "")
    async with repo.connection(web().repo) as conn:
        detail = await track_detail(conn, user.id, track_id)
        document: dict[str, Any] | None = None
        if detail.analysis is not None:
            try:
                document = await analysis_document(conn, user.id, detail.id)
            except AnalysisNotFound:
                document = None
        keys = [f"{s.engine}/{s.model}" for s in detail.separations]
        chosen = wanted if wanted in keys else (keys[0] if keys else None)
        lanes: list[Lane] = []
        if chosen is not None:
            engine, _, model = chosen.partition("/")
            lanes = await track_lanes(conn, user.id, detail.id, engine, model)
    lanes.sort(key=lambda lane: _stem_rank(lane.stem))
    analysis = _analysis(document)
    beats, downbeats, beats_per_bar = _grid(analysis)
    duration = max(
        [lane.duration_ms or 0 for lane in lanes]
        + [detail.duration_ms or (analysis.duration_ms if analysis else 0) or 0]
    )
    data = DawData(
        track_id=detail.id,
        title=detail.title,
        topic=track_topic(detail.id),
        duration_ms=duration or None,
        bpm=detail.tempo_bpm,
        beats_per_bar=beats_per_bar,
        beats_ms=beats,
        downbeats_ms=downbeats,
        separation=chosen,
        lanes=lanes,
    )
    choices = [
        SeparationChoice(f"{s.engine}/{s.model}", f"{s.model} ({s.engine})", key == chosen)
        for s, key in zip(detail.separations, keys, strict=True)
    ]
    return await render_template(
        "daw.html",
        track=detail,
        lanes=lanes,
        choices=choices,
        has_grid=bool(beats),
        daw_json=script_json(data),
        clock=clock,
    )
