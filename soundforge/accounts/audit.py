"""The audit log: who did what to what, from where, and when.

An append-only record of logins, account changes, tokens and the admin's actions on jobs,
tracks and queues, shown on the admin dashboard. It mirrors Phoenix's habit of an explicit
"context" function per domain action, with one difference: the log is written by the caller
of the action (the web layer knows the actor and the address), except for logins, which
:func:`soundforge.accounts.users.authenticate` records itself.

Rows outlive their actor: deleting a user sets ``actor_id`` to NULL (``actor_kind`` stays
'user', read as "a deleted user"), and the server's own actions (pruning, cron) are
``system`` rows, which never have an actor. Action names are dotted (``user.login``); the
known ones are :class:`Action`, though the schema only checks their shape, so that a new
subsystem can log new actions without a migration::

    await record(pool, Action.TOKEN_CREATED, actor_id=user.id, target_type="token",
                 target_id=token.id, details={"name": token.name}, ip="127.0.0.1")
    page = await list_entries(pool, action="user.", limit=50)
    older = await list_entries(pool, action="user.", limit=50, before_id=page[-1].id)
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

import msgspec

from soundforge.accounts._db import ip_or_none, uuid_or_none

__all__ = ["ACTIONS", "Action", "AuditEntry", "list_entries", "record"]

#: The most rows one page of :func:`list_entries` returns.
MAX_PAGE: Final = 1000

# The schema's audit_log_action_shape and audit_log_target_type_shape, checked here first so
# that a bad name is a clear ValueError for the programmer, not a CheckViolationError.
_ACTION_SHAPE: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_TARGET_TYPE_SHAPE: Final = re.compile(r"[a-z][a-z0-9_]*")
_ENCODE: Final = msgspec.json.Encoder()
_DETAILS: Final = msgspec.json.Decoder(dict[str, Any])


class Action(StrEnum):
    """The actions SoundForge records, in one place."""

    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    USER_REGISTERED = "user.registered"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_STATUS_CHANGED = "user.status_changed"
    USER_PASSWORD_CHANGED = "user.password_changed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    JOB_RETRIED = "job.retried"
    JOB_CANCELLED = "job.cancelled"
    TRACK_DELETED = "track.deleted"
    TRACK_RESEPARATED = "track.reseparated"
    QUEUE_PAUSED = "queue.paused"
    QUEUE_RESUMED = "queue.resumed"
    ACTOR_RESTARTED = "actor.restarted"
    ACTOR_STOPPED = "actor.stopped"
    ACTOR_KILLED = "actor.killed"
    SETTINGS_CHANGED = "settings.changed"
    LLM_PROVIDER_CREATED = "llm_provider.created"
    LLM_PROVIDER_UPDATED = "llm_provider.updated"
    LLM_PROVIDER_DELETED = "llm_provider.deleted"


#: Every known action name, e.g. for the dashboard's filter.
ACTIONS: Final = frozenset(action.value for action in Action)


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the log. ``actor_email`` is None for system rows and deleted users."""

    id: int
    at: datetime
    actor_kind: Literal["user", "system"]
    actor_id: str | None
    actor_email: str | None
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    ip: str | None


async def record(
    conn: Any,
    action: str,
    *,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
    system: bool = False,
) -> None:
    """Append one entry. ``system`` marks the server's own actions, which have no actor.

    Raises ValueError for what only a programming mistake produces: a malformed action or
    target type, an actor on a system row, a target id without a type, or an actor id that
    is not a uuid. An ``ip`` that is not an address is stored as unknown.
    """
    action = str(action)
    if not _ACTION_SHAPE.fullmatch(action):
        raise ValueError(f"{action!r} is not a dotted action name like 'user.login'")
    if target_type is not None and not _TARGET_TYPE_SHAPE.fullmatch(target_type):
        raise ValueError(f"{target_type!r} is not a target type like 'user'")
    if target_id is not None and target_type is None:
        raise ValueError("an audit entry with a target id needs a target type")
    if system and actor_id is not None:
        raise ValueError("a system audit entry has no actor")
    actor = None
    if actor_id is not None:
        actor = uuid_or_none(actor_id)
        if actor is None:
            raise ValueError(f"{actor_id!r} is not a user id")
    await conn.execute(
        """INSERT INTO audit_log (actor_kind, actor_id, action, target_type, target_id,
                                  details, ip)
           VALUES ($1, $2::uuid, $3, $4, $5, $6::text::jsonb, $7::text::inet)""",
        "system" if system else "user",
        actor,
        action,
        target_type,
        target_id,
        _ENCODE.encode(details or {}).decode(),
        ip_or_none(ip),
    )


async def list_entries(
    conn: Any,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
    actor_id: str | None = None,
) -> list[AuditEntry]:
    """Entries newest first, ``limit`` (clamped to 1..1000) at a time.

    Page on with ``before_id`` = the last id of the previous page. ``action`` filters by
    whole dotted segments: 'user' or 'user.' match every 'user.*' action, and 'user.login'
    matches 'user.login' but not 'user.login_failed'. ``actor_id`` keeps one user's actions
    (a malformed id matches nothing).
    """
    actor = None
    if actor_id is not None:
        actor = uuid_or_none(actor_id)
        if actor is None:
            return []
    prefix = action.strip().rstrip(".") if action is not None else None
    rows = await conn.fetch(
        """SELECT a.id, a.at, a.actor_kind, a.actor_id::text, u.email AS actor_email,
                  a.action, a.target_type, a.target_id, a.details::text, host(a.ip) AS ip
           FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
           WHERE ($1::bigint IS NULL OR a.id < $1)
             AND ($2::text IS NULL OR a.action = $2 OR starts_with(a.action, $2 || '.'))
             AND ($3::uuid IS NULL OR a.actor_id = $3)
           ORDER BY a.id DESC
           LIMIT $4""",
        before_id,
        prefix or None,
        actor,
        max(1, min(limit, MAX_PAGE)),
    )
    return [_entry(row) for row in rows]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_id=row["actor_id"],
        actor_email=row["actor_email"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        details=_DETAILS.decode(row["details"]),
        ip=row["ip"],
    )
