"""The OpenAPI document: it lists every route, and nothing it allows makes a 5xx.

schemathesis generates requests from ``/api/openapi.json`` and sends them, as an admin, to
the running server; the one check is ``not_a_server_error``. It runs in a worker thread
(its HTTP client blocks) while the server keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error

from soundforge.web.ratelimit import Limit
from tests.web.api.helpers import fresh_user, seed_track, web_context
from tests.web.conftest import WebServer, api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Examples per operation: enough to walk each schema's edges, small enough for 2 cores.
MAX_EXAMPLES = 20

ROUTES = {
    "/api/v1/me": {"get"},
    "/api/v1/tracks": {"get"},
    "/api/v1/tracks/{track_id}": {"get", "delete"},
    "/api/v1/tracks/batch": {"post"},
    "/api/v1/tracks/{track_id}/analysis": {"get"},
    "/api/v1/tracks/{track_id}/jobs": {"get"},
    "/api/v1/tracks/{track_id}/reseparate": {"post"},
    "/api/v1/tracks/{track_id}/stems.zip": {"get"},
    "/api/v1/imports": {"post"},
    "/api/v1/uploads": {"post"},
    "/api/v1/stems/{stem_id}/audio": {"get"},
    "/api/v1/jobs/{job_id}": {"get"},
    "/api/v1/jobs/{job_id}/retry": {"post"},
    "/api/v1/jobs/{job_id}/cancel": {"post"},
    "/api/v1/tokens": {"get", "post"},
    "/api/v1/tokens/{token_id}": {"delete"},
    "/api/v1/settings": {"get", "patch"},
    "/api/v1/password": {"post"},
    "/api/v1/admin/users": {"get"},
    "/api/v1/admin/users/{user_id}": {"patch"},
    "/api/v1/admin/audit": {"get"},
    "/api/v1/admin/queues": {"get"},
    "/api/v1/admin/queues/{name}/pause": {"post"},
    "/api/v1/admin/queues/{name}/resume": {"post"},
    "/api/v1/admin/jobs": {"get"},
    "/api/v1/admin/jobs/{job_id}/retry": {"post"},
    "/api/v1/admin/jobs/{job_id}/cancel": {"post"},
    "/api/v1/admin/actors": {"get"},
    "/api/v1/admin/actors/process": {"get"},
    "/api/v1/admin/actors/restart": {"post"},
    "/api/v1/admin/actors/stop": {"post"},
    "/api/v1/admin/actors/kill": {"post"},
    "/api/v1/stems/{stem_id}/edits": {"get", "post"},
    "/api/v1/stems/{stem_id}/edits/undo": {"post"},
    "/api/v1/stems/{stem_id}/edits/redo": {"post"},
    "/api/v1/stems/{stem_id}/render": {"post"},
    "/api/v1/stems/{stem_id}/renders/{job_id}": {"get"},
    "/api/v1/tracks/{track_id}/practice-presets": {"get", "post"},
    "/api/v1/tracks/{track_id}/practice-presets/{ref}": {"delete", "get", "put"},
    "/api/v1/studio/mixers/{key}": {"get", "post"},
    "/api/v1/studio/mixers/{key}/controls": {"get"},
    "/api/v1/studio/midi": {"get"},
    "/api/v1/studio/midi/mappings": {"get", "post"},
    "/api/v1/studio/midi/mappings/{mapping_id}": {"delete"},
    "/api/v1/studio/midi/learn": {"delete", "post"},
    "/api/v1/studio/midi/presets": {"post"},
    "/api/v1/studio/osc": {"get"},
    "/api/v1/studio/osc/layout.tosc": {"get"},
    "/api/v1/agents": {"get"},
    "/api/v1/agents/{agent}/chat": {"post"},
    "/api/v1/agents/conversations": {"get"},
    "/api/v1/agents/conversations/{conversation_id}": {"delete", "get"},
    "/api/v1/agents/conversations/{conversation_id}/confirm": {"post"},
    "/api/v1/agents/conversations/{conversation_id}/dismiss": {"post"},
    "/api/v1/agents/mix-plan": {"post"},
    "/api/v1/llm/providers": {"get", "post"},
    "/api/v1/llm/providers/{provider_id}": {"delete", "patch"},
    "/api/v1/llm/providers/{provider_id}/test": {"post"},
    "/api/v1/llm/models": {"get"},
}


async def test_the_document_lists_every_route(api_server: WebServer) -> None:
    async with api_client(api_server) as client:
        document = (await client.get("/api/openapi.json")).json()
    assert {path: set(ops) for path, ops in document["paths"].items()} == ROUTES
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"] and operation["tags"], (method, path)
            assert "429" in operation["responses"], (method, path)
    zip_ = document["paths"]["/api/v1/tracks/{track_id}/stems.zip"]["get"]
    assert "application/zip" in zip_["responses"]["200"]["content"]


def fuzz(document: dict[str, Any], base_url: str, token: str) -> list[str]:
    """Every operation, MAX_EXAMPLES requests each; the failures as text."""
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]  # an Err raises here: fine

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=60)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        # Any failure (a 5xx, or schemathesis refusing the call) is collected, so that
        # every operation gets its run and the report lists them all.
        except Exception as error:
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    return failures


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_no_request_the_document_allows_is_a_server_error(api_server: WebServer) -> None:
    admin = await fresh_user(api_server, "fuzzer", admin=True)
    await seed_track(api_server, admin.id)
    context = await web_context()
    limits, settings = dict(context.limiter.limits), context.settings
    context.limiter.limits = {g: Limit(burst=100_000, per_second=1000.0) for g in limits}
    # As deployed: links to private addresses are refused before anything is fetched.
    context.settings = msgspec.structs.replace(settings, allow_private_urls=False)
    try:
        async with admin.client:
            document = (await admin.client.get("/api/openapi.json")).json()
            failures = await asyncio.to_thread(fuzz, document, api_server.url, admin.token)
            assert (await admin.client.get("/api/v1/me")).status_code == 200
    finally:
        context.limiter.limits, context.settings = limits, settings
    assert not failures, "\n\n".join(failures)
