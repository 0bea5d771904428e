"""Reading requests and writing responses with msgspec types: one definition per body.

The JSON API declares each body, query and response as a ``msgspec.Struct``; these helpers
decode and validate them (a bad field is a 422 naming the field) and encode responses, and
the same types produce the OpenAPI document (``openapi``).

    @bp.post("/tracks/<track_id>/reseparate")
    async def reseparate(track_id: str) -> Response:
        options = await read_body(ReseparateBody)
        ...
        return json_response(job, status=202)
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from quart import Response, request

from soundforge.errors import SoundForgeError

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "json_response",
    "read_body",
    "read_query",
]

T = TypeVar("T")

JSON = "application/json"


class BadRequest(SoundForgeError):
    status = 422


class Unauthorized(SoundForgeError):
    status = 401


class Forbidden(SoundForgeError):
    status = 403


class NotFound(SoundForgeError):
    status = 404


class Conflict(SoundForgeError):
    status = 409


class TooManyRequests(SoundForgeError):
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_encoder = msgspec.json.Encoder()


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(value), status=status, content_type=JSON, headers=headers)


async def read_body(type_: type[T]) -> T:
    """The request's JSON body as ``type_``; a 422 with the offending field otherwise."""
    data = await request.get_data(cache=False)
    if not data:
        raise BadRequest("the request needs a JSON body")
    try:
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError as error:
        raise BadRequest(f"the request body is invalid: {error}") from None
    except msgspec.DecodeError:
        raise BadRequest("the request body is not valid JSON") from None


def read_query(type_: type[T]) -> T:
    """The query string as ``type_`` (strings converted to numbers and booleans)."""
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    try:
        return msgspec.convert(values, type_, strict=False)
    except msgspec.ValidationError as error:
        raise BadRequest(f"the query is invalid: {error}") from None
