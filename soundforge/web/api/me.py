"""``GET /api/v1/me``: who the request is authenticated as.

A script checks its token with it; the pages read the role from it. The account comes from
``auth.identify`` (session cookie or Bearer token), so a suspended account never gets here.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from quart import Blueprint, Response, g

from soundforge.web.auth import require_user
from soundforge.web.http import json_response
from soundforge.web.openapi import operation

__all__ = ["Me", "blueprint"]

blueprint = Blueprint("me", __name__)


class Me(msgspec.Struct, frozen=True):
    id: str
    email: str
    display_name: str | None
    role: str
    status: str
    #: How this request was authenticated.
    auth: Literal["session", "token"]


@blueprint.get("/me")
@operation("Who am I?", tag="account", response=Me)
async def me() -> Response:
    user = require_user()
    return json_response(Me(user.id, user.email, user.display_name, user.role, user.status, g.auth))
