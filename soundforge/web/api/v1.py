"""``/api/v1``: the JSON API's first version, one blueprint per resource under it.

Resources: ``me``, ``tracks`` (library, analysis, jobs of a track, re-separation),
``imports`` (links and uploads), ``stems`` (audio with ranges, zips), ``jobs``, ``tokens``,
``account`` (settings, password), ``admin`` (users, audit), ``admin_jobs`` (queues,
everyone's jobs), ``admin_actors`` (the supervision tree and actions on it) and ``studio``
(mixer sessions), ``llm`` (AI providers and models).
``docs/api.md`` is the guide; ``/api/openapi.json`` the reference.
"""

from __future__ import annotations

from quart import Blueprint

from soundforge.web.api import (
    account,
    admin,
    admin_actors,
    admin_jobs,
    agents,
    daw,
    imports,
    jobs,
    llm,
    me,
    practice,
    stems,
    studio,
    studio_midi,
    studio_osc,
    tokens,
    tracks,
)

__all__ = ["blueprint"]

blueprint = Blueprint("v1", __name__, url_prefix="/v1")

for _resource in (
    me,
    tracks,
    imports,
    stems,
    daw,
    practice,
    jobs,
    tokens,
    account,
    admin,
    admin_jobs,
    admin_actors,
    studio,
    studio_midi,
    studio_osc,
    agents,
    llm,
):
    blueprint.register_blueprint(_resource.blueprint)
