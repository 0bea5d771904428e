"""The JSON API under ``/api/v1``, and its OpenAPI document at ``/api/openapi.json``.

Each resource has its module here with a blueprint; every view declares its contract with
``soundforge.web.openapi.operation`` so the document is generated from the code. Errors are
``{"error": {"message", "status", "code"}}`` with a sentence a person can act on
(``soundforge.web.errors``). ``docs/api.md`` is the guide.
"""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from soundforge import __version__
from soundforge.web.api import v1
from soundforge.web.http import json_response
from soundforge.web.openapi import document

__all__ = ["blueprint"]

blueprint = Blueprint("api", __name__, url_prefix="/api")
blueprint.register_blueprint(v1.blueprint)


@blueprint.get("/openapi.json")
async def openapi() -> Response:
    return json_response(document(current_app, title="SoundForge API", version=__version__))
