"""The administrator's pages: overview, users, audit log, queues and actors (``/admin/...``).

Phoenix's admin LiveViews, server-rendered: each page is drawn from the domain layers
directly (``accounts.list_users``, ``accounts.list_entries``, the ``jobs`` table) so it is
complete without JavaScript, and ``web/static/js/admin.js`` adds the actions (role, suspend,
pause, retry, cancel) through the JSON API under ``/api/v1/admin`` and refreshes the queue
counts every few seconds. Every page needs an admin; anyone else signed in gets the 403 page.

The actors page (``/admin/actors``, Erlang's observer in the browser) is the exception: the
supervision tree is live data, so the page is a frame that ``web/static/js/admin-actors.js``
fills from ``GET /api/v1/admin/actors`` and then keeps current from the ``admin:actors``
WebSocket topic (``soundforge.actors.observer``); its actions go through the same JSON API.

Unlike Oban's dashboard, a queue's "paused" flag is this node's producer's (a pause is not
persisted, see ``soundforge.queue.queues``); a queue this node does not run shows its counts
with neither limit nor pause state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec
from quart import Blueprint, render_template, request

from soundforge.accounts import ACTIONS, count_users, list_entries, list_users
from soundforge.actors import repo
from soundforge.web.api.admin_jobs import JOB_STATES, queue_overviews
from soundforge.web.auth import admin_required, require_admin
from soundforge.web.context import web

__all__ = ["blueprint"]

blueprint = Blueprint("admin_pages", __name__, url_prefix="/admin")

#: Columns of the queue table, in the order a job moves through them.
#: Jobs an admin may want to act on: failed for good, or waiting to be tried again.
_ACTIONABLE: Final = ("retryable", "discarded", "cancelled")
_USERS_PAGE: Final = 100
_AUDIT_PAGE: Final = 50
_JOBS_PAGE: Final = 50


class FailedJob(msgspec.Struct, frozen=True):
    """A job that failed for good, was cancelled, or waits to be tried again."""

    id: int
    queue: str
    worker: str
    state: str
    attempt: int
    max_attempts: int
    track_id: str | None
    error: str | None
    #: When it was discarded or cancelled, or when it runs again (retryable).
    at: datetime


async def _failed_jobs(conn: Any, state: str | None) -> list[FailedJob]:
    states = [state] if state in _ACTIONABLE else list(_ACTIONABLE)
    rows = await conn.fetch(
        """SELECT id, queue, worker, state, attempt, max_attempts, args->>'track_id' AS track_id,
                  left(split_part(errors->-1->>'message', E'\\n', 1), 300) AS error,
                  coalesce(discarded_at, cancelled_at, scheduled_at) AS at
           FROM jobs WHERE state = ANY($1::text[]) ORDER BY id DESC LIMIT $2""",
        states,
        _JOBS_PAGE,
    )
    return [FailedJob(**dict(row)) for row in rows]


@blueprint.get("")
@blueprint.get("/")
@admin_required
async def overview() -> str:
    async with repo.connection(web().repo) as conn:
        users = await count_users(conn)
        roles = await conn.fetch(
            "SELECT role, status, count(*) AS n FROM users GROUP BY role, status"
        )
        tracks = await conn.fetch("SELECT status, count(*) AS n FROM tracks GROUP BY status")
        queues = await queue_overviews(conn)
        recent = await list_entries(conn, limit=10)
    admins = sum(r["n"] for r in roles if r["role"] == "admin" and r["status"] == "active")
    suspended = sum(r["n"] for r in roles if r["status"] == "suspended")
    by_status = {r["status"]: int(r["n"]) for r in tracks}
    return await render_template(
        "admin/overview.html",
        section="overview",
        users=users,
        admins=admins,
        suspended=suspended,
        tracks=by_status,
        track_total=sum(by_status.values()),
        queues=queues,
        states=JOB_STATES,
        recent=recent,
    )


@blueprint.get("/users")
@admin_required
async def users() -> str:
    me = require_admin()
    q = request.args.get("q", "").strip() or None
    offset = _int_arg("offset", 0)
    async with repo.connection(web().repo) as conn:
        rows = await list_users(conn, limit=_USERS_PAGE, offset=offset, q=q)
        total = await count_users(conn, q=q)
    return await render_template(
        "admin/users.html",
        section="users",
        users=rows,
        me=me,
        q=q or "",
        total=total,
        offset=offset,
        page=_USERS_PAGE,
    )


@blueprint.get("/audit")
@admin_required
async def audit() -> str:
    action = request.args.get("action", "").strip() or None
    before = _int_arg("before", 0) or None
    async with repo.connection(web().repo) as conn:
        entries = await list_entries(conn, limit=_AUDIT_PAGE, before_id=before, action=action)
    prefixes = sorted({name.split(".", 1)[0] for name in ACTIONS})
    return await render_template(
        "admin/audit.html",
        section="audit",
        entries=entries,
        action=action or "",
        prefixes=prefixes,
        actions=sorted(ACTIONS),
        before=before,
        older=entries[-1].id if len(entries) == _AUDIT_PAGE else None,
    )


@blueprint.get("/queues")
@admin_required
async def queues() -> str:
    state = request.args.get("state") or None
    async with repo.connection(web().repo) as conn:
        rows = await queue_overviews(conn)
        failed = await _failed_jobs(conn, state)
    return await render_template(
        "admin/queues.html",
        section="queues",
        queues=rows,
        states=JOB_STATES,
        failed=failed,
        failed_states=_ACTIONABLE,
        state=state if state in _ACTIONABLE else "",
    )


@blueprint.get("/actors")
@admin_required
async def actors() -> str:
    return await render_template("admin/actors.html", section="actors")


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else default
