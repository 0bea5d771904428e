"""The track context: the analysis, stems and cues of the user's own track, in the prompt."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from soundforge.agents import render_context, track_context
from soundforge.music import TrackNotFound
from tests.agents import library


async def test_the_context_holds_the_tracks_facts(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        await library.hot_cue(conn, track_id, 0, 46_440)
        context = await track_context(conn, owner, track_id)

    assert context.analysed and context.title == "Night Drive"
    assert context.duration_ms == library.DURATION_MS and context.duration == "4:00.0"
    assert context.tempo is not None
    assert (context.tempo.bpm, context.tempo.confidence) == (124.0, 0.91)
    assert (context.tempo.half_bpm, context.tempo.double_bpm) == (62.0, 248.0)
    assert context.tempo.beats_per_bar == 4
    assert context.key is not None
    assert (context.key.key, context.key.camelot) == ("A minor", "8A")
    compatible = {(n.code, n.relation) for n in context.key.compatible}
    assert compatible == {
        ("8A", "same key"),
        ("7A", "adjacent (-1)"),
        ("9A", "adjacent (+1)"),
        ("8B", "relative major"),
    }
    assert context.loudness_lufs == -8.1 and context.loudness_range_lu == 5.2
    assert [s.label for s in context.structure] == [
        "intro", "build-up", "drop", "breakdown", "drop", "outro",
    ]  # fmt: skip
    assert context.structure[2].start_ms == 46_440 and context.structure[2].at == "0:46.4"
    assert context.energy is not None and context.energy.peak_section == "drop at 0:46.4"
    assert 0 < len(context.energy.curve) <= 16 and max(context.energy.curve) == 1.0
    assert [(m.kind, m.position_ms) for m in context.markers][1] == ("drop", 46_440)
    assert context.analysis_loops[0].bars == 8 and context.analysis_loops[0].section == "drop"
    assert context.chords[:4] == ["Am", "F", "C", "G"]
    assert context.first_downbeat_ms == 480
    assert [(s.engine, s.model) for s in context.stems] == [("demucs", "htdemucs")]
    assert set(context.stems[0].stems) == {"vocals", "drums", "bass", "other"}
    assert [(c.kind, c.hot_index, c.position_ms) for c in context.cue_points] == [
        ("hot", 0, 46_440)
    ]


async def test_the_rendered_context_is_compact_json_with_the_facts(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        text = render_context(await track_context(conn, owner, track_id))
    heading, body = text.split("\n", 1)
    assert "milliseconds" in heading
    data = msgspec.json.decode(body)
    assert data["key"]["camelot"] == "8A" and data["tempo"]["bpm"] == 124.0
    assert "beats_ms" not in body and "waveform" not in body  # the bulky parts stay out
    assert len(text) < 6000


async def test_a_track_without_analysis_says_so(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner, analysed=False, stems=())
        context = await track_context(conn, owner, track_id)
    assert not context.analysed
    assert context.tempo is None and context.key is None and context.structure == []
    assert '"analysed":false' in render_context(context)


async def test_another_users_track_is_not_found(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner, other = await library.user(conn), await library.user(conn, "other")
        track_id = await library.track(conn, owner)
        with pytest.raises(TrackNotFound):
            await track_context(conn, other, track_id)
        with pytest.raises(TrackNotFound):
            await track_context(conn, owner, "not-a-uuid")
