"""Errors as a person reads them: JSON for the API and WebSocket, a page for the browser.

Every SoundForgeError carries its HTTP status and one clear sentence; HTTP errors raised by
Quart itself (404, 405, 413) get sentences here too. Anything else is a bug: it is logged with
its traceback once, and the client gets a 500 that says so without internals.
"""

from __future__ import annotations

import logging
from typing import Final

from quart import Quart, Response, render_template, request
from werkzeug.exceptions import HTTPException

from soundforge.errors import SoundForgeError
from soundforge.web.http import TooManyRequests, json_response

__all__ = ["error_response", "install"]

log = logging.getLogger(__name__)

_HTTP_SENTENCES: Final = {
    400: "the request is malformed",
    404: "there is nothing at this address",
    405: "this address does not accept that method",
    413: "the upload is larger than this server accepts",
    415: "this content type is not accepted here",
}


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/ws", "/health", "/metrics")):
        return True
    accept = request.accept_mimetypes
    return accept.best == "application/json"


async def error_response(status: int, message: str, code: str) -> Response:
    if wants_json():
        return json_response(
            {"error": {"message": message, "status": status, "code": code}}, status
        )
    page = await render_template("error.html", status=status, message=message)
    return Response(page, status=status, content_type="text/html; charset=utf-8")


def install(app: Quart) -> None:
    @app.errorhandler(SoundForgeError)
    async def product_error(error: SoundForgeError) -> Response:
        response = await error_response(
            error.status, _sentence(error.message), type(error).__name__
        )
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = _HTTP_SENTENCES.get(status, error.description or "the request failed")
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            if limit:
                message = f"the upload is larger than this server's limit of {limit >> 20} MB"
        response = await error_response(status, _sentence(message), type(error).__name__)
        if status == 405 and error.response is not None:
            allow = error.response.headers.get("Allow")
            if allow:
                response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    async def bug(error: Exception) -> Response:
        log.error("%s %s failed", request.method, request.path, exc_info=error)
        return await error_response(
            500, "Something went wrong on the server; the error has been logged.", "InternalError"
        )


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return "The request failed."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
