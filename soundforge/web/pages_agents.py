"""The agents page, ``/agents``: library-wide chats (the mix planner) and the deterministic
mix plan, which needs no model.

The plan of the user's most recently added analysed tracks (``rising`` flow, or the
``flow`` in the query) is rendered on the server, so the page is useful with no AI
provider at all; ``web/static/js/agents.js`` re-plans when the flow changes and mounts the
chat panel (``partials/agent_chat.html``, ``agent-chat.js``), which streams replies from
``POST /api/v1/agents/<agent>/chat``. ``/agents?track=<id>`` opens the panel about one of
the user's tracks (every agent then); the same partial goes on the track page with the
track's id.
"""

from __future__ import annotations

from quart import Blueprint, render_template, request

from soundforge.actors import repo
from soundforge.agents import FLOWS, plan_mix
from soundforge.music import get_owned_track
from soundforge.web.auth import login_required, require_user
from soundforge.web.context import web

__all__ = ["blueprint"]

blueprint = Blueprint("agents_pages", __name__)

#: Tracks the page's first plan orders.
PAGE_SET = 12


@blueprint.get("/agents")
@login_required
async def agents_page() -> str:
    user = require_user()
    flow = request.args.get("flow", "rising")
    if flow not in FLOWS:
        flow = "rising"
    track = None
    async with repo.connection(web().repo) as conn:
        plan = await plan_mix(conn, user.id, None, flow=flow, limit=PAGE_SET)  # type: ignore[arg-type]
        if request.args.get("track"):
            # Chat about one of the user's tracks; another user's is a 404 like a missing one.
            track = await get_owned_track(conn, user.id, request.args["track"])
    return await render_template("agents.html", plan=plan, flows=FLOWS, flow=flow, track=track)
