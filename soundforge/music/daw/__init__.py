"""The DAW context: per-stem lanes with non-destructive region edits, undo, and renders.

A Phoenix context like :mod:`soundforge.music.library`: each function takes an asyncpg
connection or pool and the acting ``user_id``, and every statement carries the user's id, so
another user's stem is the same 404 as a missing one. A lane is one original stem (version
1) of a separation; its edits (trim, split, fade in/out, gain, mute) form an ordered list in
``stem_edits`` with undo and redo; a render (``soundforge.jobs.render.RenderStem``) applies
the live edits with :mod:`soundforge.audio.render` and stores the result as a new version of
the stem, the original untouched. ``docs/daw.md`` describes the whole feature.

    lane = await add_edit(pool, user.id, stem_id, NewEdit(op="mute", start_ms=1000, end_ms=2000))
    lane = await undo(pool, user.id, stem_id)       # the mute is undone (kept for redo)
    lane = await redo(pool, user.id, stem_id)       # and back
    [e.op for e in lane.edits if not e.undone]      # ['mute']

These functions change rows, never PubSub; the render job publishes its own events
(:class:`StemRenderChanged`, :class:`StemRenderProgress`) on ``track:<id>``.
"""

from soundforge.audio.render import Clip
from soundforge.music.daw._edits import (
    StemRow,
    add_edit,
    check_edit,
    get_lane,
    live_edits,
    owned_stem,
    redo,
    stem_row,
    track_lanes,
    undo,
)
from soundforge.music.daw._renders import (
    get_render,
    next_version,
    record_render,
    render_path,
    render_source,
)
from soundforge.music.daw._values import (
    MAX_EDITS,
    RENDER_EVENT_TYPES,
    RENDER_WORKER,
    Edit,
    EditConflict,
    InvalidEdit,
    Lane,
    NewEdit,
    Op,
    RenderJob,
    RenderState,
    StemRenderChanged,
    StemRenderProgress,
    StemVersion,
)

__all__ = [
    "MAX_EDITS",
    "RENDER_EVENT_TYPES",
    "RENDER_WORKER",
    "Clip",
    "Edit",
    "EditConflict",
    "InvalidEdit",
    "Lane",
    "NewEdit",
    "Op",
    "RenderJob",
    "RenderState",
    "StemRenderChanged",
    "StemRenderProgress",
    "StemRow",
    "StemVersion",
    "add_edit",
    "check_edit",
    "get_lane",
    "get_render",
    "live_edits",
    "next_version",
    "owned_stem",
    "record_render",
    "redo",
    "render_path",
    "render_source",
    "stem_row",
    "track_lanes",
    "undo",
]
