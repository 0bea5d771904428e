"""``/api/v1/settings`` and ``/api/v1/password``: your preferences and your password.

Settings are read whole and changed field by field (PATCH: fields left out keep their
value; ``soundforge.accounts.preferences`` checks combinations such as FLAC's bit depths).
Changing the password ends every session of the account (the accounts layer does that);
a browser that changed it through its session gets a fresh session cookie, so only the
device that changed it stays signed in.

    curl -X PATCH -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"stem_format": "flac", "bit_depth": 24}' "$SF/api/v1/settings"
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from quart import Blueprint, Response, g, request

from soundforge.accounts import (
    Action,
    UserSettings,
    change_password,
    create_session,
    get_preferences,
    update_preferences,
)
from soundforge.accounts.users import MIN_PASSWORD_LENGTH
from soundforge.web.api._common import audit, connection
from soundforge.web.auth import client_ip, require_user, set_session_cookie
from soundforge.web.context import web
from soundforge.web.http import json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["PasswordBody", "SettingsPatch", "blueprint"]

blueprint = Blueprint("account", __name__)

#: UserSettings with every field optional: derived from it, so the two never drift apart.
SettingsPatch: Any = msgspec.defstruct(
    "SettingsPatch",
    [
        (field.name, field.type | msgspec.UnsetType, msgspec.UNSET)
        for field in msgspec.structs.fields(UserSettings)
    ],
    kw_only=True,
    frozen=True,
    forbid_unknown_fields=True,
    module=__name__,
)

Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class PasswordBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current: Password
    new: Annotated[str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


@blueprint.get("/settings")
@operation("Your separation and analysis settings", tag="account", response=UserSettings)
async def settings() -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_preferences(conn, user.id))


@blueprint.patch("/settings")
@operation("Change some of your settings", tag="account", body=SettingsPatch, response=UserSettings)
async def update_settings() -> Response:
    user = require_user()
    body = await read_body(SettingsPatch)
    changes = {
        name: value
        for name, value in msgspec.structs.asdict(body).items()
        if value is not msgspec.UNSET
    }
    async with connection() as conn:
        settings = await update_preferences(conn, user.id, changes)
        if changes:
            await audit(
                conn,
                Action.SETTINGS_CHANGED,
                target_type="user",
                target_id=user.id,
                details={"changed": msgspec.to_builtins(changes)},
            )
    return json_response(settings)


@blueprint.post("/password")
@operation(
    "Change your password (signs out your other sessions)",
    tag="account",
    body=PasswordBody,
    status=204,
    errors=(403,),
)
async def password() -> Response:
    user = require_user()
    body = await read_body(PasswordBody)
    response = Response(status=204)
    async with connection() as conn:
        await change_password(conn, user.id, body.current, body.new)
        await audit(conn, Action.USER_PASSWORD_CHANGED, target_type="user", target_id=user.id)
        web().credentials_changed(user.id, "password")
        if g.auth == "session":
            token = await create_session(
                conn, user.id, user_agent=request.headers.get("User-Agent"), ip=client_ip()
            )
            set_session_cookie(response, token)
    return response
