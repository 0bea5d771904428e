"""``/api/v1/admin``: accounts and the audit log (admins only; everyone else gets 403).

* users: list (search, paging), change a role (user/admin) or a status (active/suspended).
  Suspending ends the account's sessions at once and its tokens stop working on their next
  request (``soundforge.accounts``); the last active admin cannot be demoted or suspended
  (409).
* audit: the log, newest first, paged by keyset: pass the last entry's id as ``before``.

Every change is recorded in the audit log with the acting admin and their address. The
queues and every user's jobs are in :mod:`soundforge.web.api.admin_jobs`.

    curl -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\
         -d '{"status": "suspended"}' "$SF/api/v1/admin/users/$USER_ID"
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.accounts import (
    Action,
    AuditEntry,
    User,
    UserRow,
    count_users,
    get_user,
    list_entries,
    list_users,
    set_role,
    set_status,
)
from soundforge.web.api._common import NO_NUL, Page, audit, connection, transaction
from soundforge.web.auth import require_admin
from soundforge.web.context import web
from soundforge.web.http import BadRequest, json_response, read_body, read_query
from soundforge.web.openapi import operation

__all__ = ["AuditPage", "AuditQuery", "UserPage", "UserPatch", "UserQuery", "blueprint"]

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


class UserQuery(msgspec.Struct, frozen=True, kw_only=True):
    #: Part of the email or display name.
    q: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)] | None = None
    limit: Page = 100
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0


class UserPage(msgspec.Struct, frozen=True):
    items: list[UserRow]
    total: int
    limit: int
    offset: int


class UserPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Literal["user", "admin"] | None = None
    status: Literal["active", "suspended"] | None = None


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    #: Entries older than this id (the last id of the previous page).
    before: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | None = None
    #: An action or a family of them: ``user`` matches every ``user.*``.
    action: Annotated[str, msgspec.Meta(max_length=100, pattern=NO_NUL)] | None = None
    #: One user's actions.
    actor: Annotated[str, msgspec.Meta(max_length=64, pattern=NO_NUL)] | None = None
    limit: Page = 100


class AuditPage(msgspec.Struct, frozen=True):
    items: list[AuditEntry]
    #: Pass as ``before`` for the next page; null on the last page.
    next_before: int | None


@blueprint.get("/users")
@operation("Every account", tag="admin", query=UserQuery, response=UserPage, admin=True)
async def users() -> Response:
    require_admin()
    query = read_query(UserQuery)
    async with connection() as conn:
        items = await list_users(conn, limit=query.limit, offset=query.offset, q=query.q)
        total = await count_users(conn, q=query.q)
    return json_response(UserPage(items, total, query.limit, query.offset))


@blueprint.patch("/users/<user_id>")
@operation(
    "Change an account's role or status",
    tag="admin",
    body=UserPatch,
    response=User,
    admin=True,
    errors=(404, 409),
)
async def update_user(user_id: str) -> Response:
    require_admin()
    body = await read_body(UserPatch)
    if body.role is None and body.status is None:
        raise BadRequest("give a role (user or admin), a status (active or suspended), or both")
    # One transaction: a status change refused as the last admin's also undoes the role's.
    async with transaction() as conn:
        user = before = await get_user(conn, user_id)
        if body.role is not None and body.role != before.role:
            user = await set_role(conn, before.id, body.role)
            await audit(
                conn,
                Action.USER_ROLE_CHANGED,
                target_type="user",
                target_id=user.id,
                details={"email": user.email, "from": before.role, "to": user.role},
            )
        if body.status is not None and body.status != before.status:
            user = await set_status(conn, before.id, body.status)
            await audit(
                conn,
                Action.USER_STATUS_CHANGED,
                target_type="user",
                target_id=user.id,
                details={"email": user.email, "from": before.status, "to": user.status},
            )
    if user != before:
        web().credentials_changed(user.id, "status" if user.status != before.status else "role")
    return json_response(user)


@blueprint.get("/audit")
@operation(
    "The audit log, newest first (keyset paging with ?before=)",
    tag="admin",
    query=AuditQuery,
    response=AuditPage,
    admin=True,
)
async def audit_log() -> Response:
    require_admin()
    query = read_query(AuditQuery)
    async with connection() as conn:
        items = await list_entries(
            conn,
            limit=query.limit,
            before_id=query.before,
            action=query.action,
            actor_id=query.actor,
        )
    next_before = items[-1].id if len(items) == query.limit else None
    return json_response(AuditPage(items, next_before))
