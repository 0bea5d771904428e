"""The DAW's edit lists on a real database: append, undo, redo and the undone tail, the
validation of each op, ownership (another user's stem is missing), and render versions
beside the original without disturbing the library's view of the separation."""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.audio.render import RenderedFile
from soundforge.music import StemNotFound, track_detail, tracks
from soundforge.music.daw import (
    Clip,
    EditConflict,
    InvalidEdit,
    NewEdit,
    add_edit,
    get_lane,
    live_edits,
    next_version,
    owned_stem,
    record_render,
    redo,
    render_path,
    render_source,
    track_lanes,
    undo,
)
from soundforge.web.pages_track import _separation_view
from tests.music.conftest import Users, add_track, separated


async def vocals(pool: Any, user_id: str) -> tuple[str, str]:
    """A track of ``user_id`` with four 1-second stems; (track id, vocals stem id)."""
    track_id = await add_track(pool, user_id, "Edit Me", duration_ms=1000)
    await separated(pool, track_id)
    stem_id = await pool.fetchval(
        "SELECT id::text FROM stems WHERE track_id = $1::uuid AND stem = 'vocals'", track_id
    )
    return track_id, str(stem_id)


def mute(start: int, end: int) -> NewEdit:
    return NewEdit(op="mute", start_ms=start, end_ms=end)


def ops(lane: Any) -> list[tuple[str, int, bool]]:
    return [(e.op, e.start_ms, e.undone) for e in lane.edits]


async def test_edits_append_in_order_and_splits_make_clips(db_pool: Any, users: Users) -> None:
    _, stem = await vocals(db_pool, users.alice)
    lane = await get_lane(db_pool, users.alice, stem)
    assert lane.edits == [] and lane.clips == [Clip(0, 1000)]
    assert not lane.can_undo and not lane.can_redo and lane.versions == []
    await add_edit(db_pool, users.alice, stem, NewEdit(op="split", start_ms=400))
    await add_edit(
        db_pool, users.alice, stem, NewEdit(op="gain", start_ms=0, end_ms=400, gain_db=-6)
    )
    lane = await add_edit(db_pool, users.alice, stem, NewEdit(op="split", start_ms=700))
    assert [(e.position, e.op) for e in lane.edits] == [(0, "split"), (1, "gain"), (2, "split")]
    assert lane.edits[1].gain_db == -6.0 and lane.edits[1].end_ms == 400
    assert lane.clips == [Clip(0, 400), Clip(400, 700), Clip(700, 1000)]
    assert lane.can_undo and not lane.can_redo
    assert [e.op for e in await live_edits(db_pool, stem)] == ["split", "gain", "split"]


async def test_undo_redo_and_a_new_edit_drops_the_undone(db_pool: Any, users: Users) -> None:
    _, stem = await vocals(db_pool, users.alice)
    for start in (100, 300, 500):
        await add_edit(db_pool, users.alice, stem, mute(start, start + 100))
    lane = await undo(db_pool, users.alice, stem)
    assert ops(lane) == [("mute", 100, False), ("mute", 300, False), ("mute", 500, True)]
    lane = await undo(db_pool, users.alice, stem)
    assert ops(lane) == [("mute", 100, False), ("mute", 300, True), ("mute", 500, True)]
    assert lane.can_undo and lane.can_redo
    assert [e.start_ms for e in await live_edits(db_pool, stem)] == [100]
    lane = await redo(db_pool, users.alice, stem)  # the first undone comes back first
    assert ops(lane) == [("mute", 100, False), ("mute", 300, False), ("mute", 500, True)]
    lane = await add_edit(db_pool, users.alice, stem, mute(800, 900))
    assert ops(lane) == [("mute", 100, False), ("mute", 300, False), ("mute", 800, False)]
    assert [e.position for e in lane.edits] == [0, 1, 2] and not lane.can_redo
    with pytest.raises(EditConflict, match="nothing to redo"):
        await redo(db_pool, users.alice, stem)
    for _ in range(3):
        lane = await undo(db_pool, users.alice, stem)
    assert not lane.can_undo and lane.can_redo
    with pytest.raises(EditConflict, match="nothing to undo"):
        await undo(db_pool, users.alice, stem)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (NewEdit(op="mute", start_ms=100), "needs a region"),
        (NewEdit(op="mute", start_ms=500, end_ms=500), "end must come after its start"),
        (NewEdit(op="fade_in", start_ms=900, end_ms=1001), "past the stem's end"),
        (NewEdit(op="gain", start_ms=0, end_ms=100), "needs gain_db"),
        (NewEdit(op="trim", start_ms=0, end_ms=100, gain_db=3), "takes no gain_db"),
        (NewEdit(op="split", start_ms=0), "inside the stem"),
        (NewEdit(op="split", start_ms=1000), "inside the stem"),
        (NewEdit(op="split", start_ms=300, end_ms=400), "position \\(start_ms\\) only"),
        (NewEdit(op="split", start_ms=250), "already split at 0.25 s"),
    ],
)
async def test_invalid_edits_are_refused(
    db_pool: Any, users: Users, edit: NewEdit, message: str
) -> None:
    _, stem = await vocals(db_pool, users.alice)
    await add_edit(db_pool, users.alice, stem, NewEdit(op="split", start_ms=250))
    with pytest.raises(InvalidEdit, match=message):
        await add_edit(db_pool, users.alice, stem, edit)
    assert len((await get_lane(db_pool, users.alice, stem)).edits) == 1


async def test_another_users_stem_is_missing(db_pool: Any, users: Users) -> None:
    track, stem = await vocals(db_pool, users.alice)
    await add_edit(db_pool, users.alice, stem, mute(0, 100))
    calls = [
        get_lane(db_pool, users.bob, stem),
        add_edit(db_pool, users.bob, stem, mute(200, 300)),
        undo(db_pool, users.bob, stem),
        redo(db_pool, users.bob, stem),
    ]
    for call in calls:
        with pytest.raises(StemNotFound):
            await call
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(StemNotFound):
            await get_lane(db_pool, users.alice, bad)
    async with db_pool.acquire() as conn:
        with pytest.raises(StemNotFound):
            await render_source(conn, users.bob, stem)
    assert await track_lanes(db_pool, users.bob, track, "demucs", "htdemucs") == []
    assert len((await get_lane(db_pool, users.alice, stem)).edits) == 1  # untouched by bob


async def store_render(pool: Any, user_id: str, stem_id: str) -> tuple[int, str]:
    async with pool.acquire() as conn, conn.transaction():
        stem = await owned_stem(conn, user_id, stem_id)
        version = await next_version(conn, stem.id)
        assert version is not None
        path = render_path(stem, version)
        rendered = RenderedFile(path, 4000, 44100, 2, 44100, 1000)
        return version, await record_render(conn, stem, version, path, rendered)


async def test_renders_are_versions_beside_the_original(db_pool: Any, users: Users) -> None:
    track, stem = await vocals(db_pool, users.alice)
    async with db_pool.acquire() as conn:
        with pytest.raises(EditConflict, match="no edits to render"):
            await render_source(conn, users.alice, stem)
    await add_edit(db_pool, users.alice, stem, mute(0, 100))
    v2, id2 = await store_render(db_pool, users.alice, stem)
    v3, id3 = await store_render(db_pool, users.alice, stem)
    assert (v2, v3) == (2, 3)
    row = await db_pool.fetchrow(
        "SELECT path, parent_stem_id::text AS parent, bit_depth FROM stems WHERE id = $1::uuid",
        id3,
    )
    assert row["path"] == f"tracks/{track}/stems/htdemucs/vocals.v3.wav"
    assert row["parent"] == stem and row["bit_depth"] == 32
    lane = await get_lane(db_pool, users.alice, stem)
    assert [(v.id, v.version) for v in lane.versions] == [(id2, 2), (id3, 3)]
    with pytest.raises(EditConflict, match="is a render"):
        await add_edit(db_pool, users.alice, id2, mute(0, 100))
    lanes = await track_lanes(db_pool, users.alice, track, "demucs", "htdemucs")
    assert sorted(lane.stem for lane in lanes) == ["bass", "drums", "other", "vocals"]
    # The library and the track page still see one vocals stem: the original.
    assert [s.stem for s in await tracks.stems_of(db_pool, track)].count("vocals") == 1
    detail = await track_detail(db_pool, users.alice, track)
    view = _separation_view(track, detail.separations[0])
    assert [s.name for s in view.stems].count("vocals") == 1
    assert next(s.id for s in view.stems if s.name == "vocals") == stem


def test_exported_names() -> None:
    """The DAW package's public face (the web layer and the render job use these)."""
    import soundforge.music.daw as package

    assert set(package.__all__) == {
        "MAX_EDITS", "RENDER_EVENT_TYPES", "RENDER_WORKER", "Clip", "Edit", "EditConflict",
        "InvalidEdit", "Lane", "NewEdit", "Op", "RenderJob", "RenderState",
        "StemRenderChanged", "StemRenderProgress", "StemRow", "StemVersion", "add_edit",
        "check_edit", "get_lane", "get_render", "live_edits", "next_version", "owned_stem",
        "record_render", "redo", "render_path", "render_source", "stem_row", "track_lanes",
        "undo",
    }  # fmt: skip
    assert all(hasattr(package, name) for name in package.__all__)
    from soundforge.jobs.render import RenderStem

    assert RenderStem.name == package.RENDER_WORKER
