"""``/studio/midi``: the MIDI page — devices, the status sentence, your mappings, presets.

Rendered complete on the server from the same sources as ``GET /api/v1/studio/midi``
(``soundforge.studio.midi.status`` and the ``midi_mappings`` rows), then
``web/static/js/studio-midi.js`` keeps it current: it polls the overview every second for
devices coming and going and for the monitor of the last messages, deletes mappings and
applies presets through the JSON API. MIDI learn itself starts from the track and DJ
pages (``web/static/js/midi-learn.js``: click a control, move a knob).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template

from soundforge.actors import repo
from soundforge.studio.midi import PRESETS, list_mappings, status
from soundforge.web import auth
from soundforge.web.context import web

__all__ = ["blueprint"]

blueprint = Blueprint("studio_midi_pages", __name__)


@blueprint.get("/studio/midi")
@auth.login_required
async def midi_page() -> Any:
    user = auth.require_user()
    async with repo.connection(web().repo) as conn:
        mappings = await list_mappings(conn, user.id)
    return await render_template(
        "studio_midi.html", midi=await status(), mappings=mappings, presets=PRESETS
    )
