"""The DJ page, ``/dj``: two decks, the mixer between them, all state in a mixer session.

Unlike the track page, nothing about the decks is rendered here: what they hold (tracks,
positions, hot cues, EQ, the crossfader) is the user's ``dj`` mixer session
(``soundforge.studio``), which the page's script (``web/static/js/dj.js``) follows over
``/ws`` — its snapshot on load, then every change from any tab, OSC surface or MIDI
controller. The server renders the controls (each with ``data-control="<path>"`` for MIDI
learn) and a ``<script type="application/json">`` data block with the user's id and the
session's topic; like the track page's, a data block is not executed, so the strict CSP
allows it.
"""

from __future__ import annotations

from typing import Final

import msgspec
from quart import Blueprint, render_template

from soundforge.studio import mixers
from soundforge.web.auth import login_required, require_user
from soundforge.web.pages_track import script_json

__all__ = ["SESSION", "DjData", "blueprint"]

blueprint = Blueprint("dj_pages", __name__)

#: The key of the DJ console's mixer session (one per user).
SESSION: Final = "dj"


class DjData(msgspec.Struct, frozen=True):
    """What ``dj.js`` reads from ``#dj-data``."""

    user_id: str
    #: ``mixer:<user id>:dj``, the PubSub topic the page subscribes to.
    topic: str


@blueprint.get("/dj")
@login_required
async def dj_page() -> str:
    user = require_user()
    data = DjData(user_id=user.id, topic=mixers.topic(user.id, SESSION))
    return await render_template("dj.html", dj_json=script_json(data))
