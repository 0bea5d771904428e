"""``/api/v1/tokens``: your API tokens — list, create (the secret is shown once), revoke.

Only a token's SHA-256 is stored (``soundforge.accounts.tokens``), so the secret in the
201 answer cannot be read back: a list shows each token's name and first characters.
Revoking someone else's token id is a 404, like an unknown one.

    curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"name": "backup script"}' "$SF/api/v1/tokens"
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from quart import Blueprint, Response

from soundforge.accounts import Action, ApiToken, create_token, list_tokens, revoke_token
from soundforge.web.api._common import NO_NUL, audit, connection
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import NotFound, json_response, read_body
from soundforge.web.openapi import operation

__all__ = ["NewToken", "TokenBody", "blueprint"]

blueprint = Blueprint("tokens", __name__)


class TokenBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: What the token is for, unique among your live tokens.
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
    #: When it stops working (with a time zone); none: never.
    expires_at: datetime | None = None


class NewToken(msgspec.Struct, frozen=True):
    token: ApiToken
    #: Send as ``Authorization: Bearer <secret>``. Shown only in this answer.
    secret: str


@blueprint.get("/tokens")
@operation("Your API tokens (never their secrets)", tag="tokens", response=list[ApiToken])
async def list_() -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await list_tokens(conn, user.id))


@blueprint.post("/tokens")
@operation(
    "Create an API token; its secret is in this answer only",
    tag="tokens",
    body=TokenBody,
    response=NewToken,
    status=201,
    errors=(409,),
)
async def create() -> Response:
    user = require_user()
    body = await read_body(TokenBody)
    async with connection() as conn:
        token, secret = await create_token(conn, user.id, body.name, expires_at=body.expires_at)
        await audit(
            conn,
            Action.TOKEN_CREATED,
            target_type="token",
            target_id=token.id,
            details={"name": token.name, "prefix": token.prefix},
        )
    return json_response(NewToken(token, secret), status=201)


@blueprint.delete("/tokens/<token_id>")
@operation("Revoke one of your tokens", tag="tokens", status=204, errors=(404,))
async def revoke(token_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        if not await revoke_token(conn, user.id, token_id):
            raise NotFound(f"you have no live token {token_id[:64]}")
        await audit(conn, Action.TOKEN_REVOKED, target_type="token", target_id=token_id)
    web().credentials_changed(user.id, "token")
    return Response(status=204)
