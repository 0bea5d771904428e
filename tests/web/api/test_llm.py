"""``/api/v1/llm`` over HTTP: providers with write-only keys, ownership, system providers for
administrators, the test button against the fakes, the model listing, the audit trail, and
the periodic health job against the same server's database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from soundforge.jobs.llm_health import ProviderHealthCheck
from soundforge.llm import LlmContext, LlmOptions, ModelRegistry, llm_context
from soundforge.queue import JobRecord
from soundforge.runtime.gen_server import stop, whereis
from soundforge.runtime.results import Ok
from soundforge.supervisors.root import NAMES
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI
from tests.web.api.helpers import audit_entries, fresh_user
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEY = "sk-ant-test-key"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def models(api_server: WebServer) -> AsyncIterator[LlmContext]:
    """The server's ModelRegistry; started here while the root tree does not run one."""
    started = whereis("soundforge.models") is None
    if started:
        options = LlmOptions(data_dir=api_server.studio.data_dir, repo=NAMES.repo, environ={})
        assert isinstance(await ModelRegistry.start(options), Ok)
    yield llm_context()
    if started:
        await stop("soundforge.models")


@pytest.fixture(scope="module")
def claude_api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake


def claude_body(fake: FakeAnthropic, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Claude",
        "kind": "anthropic",
        "model": "claude-sonnet-4-6",
        "base_url": fake.base_url,
        "api_key": KEY,
    } | extra


async def test_keys_are_write_only_and_providers_are_owned(
    api_server: WebServer, models: LlmContext, claude_api: FakeAnthropic
) -> None:
    me = await fresh_user(api_server)
    other = await fresh_user(api_server, "other")
    async with me.client, other.client:
        created = await me.client.post("/api/v1/llm/providers", json=claude_body(claude_api))
        assert created.status_code == 201, created.text
        provider = created.json()
        assert KEY not in created.text and provider["api_key_last4"] == KEY[-4:]
        assert provider["source"] == "user" and provider["health_status"] == "unknown"
        listed = (await me.client.get("/api/v1/llm/providers")).json()
        assert [p["name"] for p in listed["providers"]] == ["Claude"] and listed[
            "can_manage_system"
        ] is False
        assert KEY not in str(listed)

        for client, status in [(other.client, 404), (me.client, 200)]:
            patched = await client.patch(
                f"/api/v1/llm/providers/{provider['id']}",
                json={"enabled": False, "model": "claude-haiku-4-5"},
            )
            assert patched.status_code == status, patched.text
        assert patched.json()["enabled"] is False and patched.json()["model"] == "claude-haiku-4-5"
        assert (
            await other.client.delete(f"/api/v1/llm/providers/{provider['id']}")
        ).status_code == 404
        assert (
            await other.client.post(f"/api/v1/llm/providers/{provider['id']}/test")
        ).status_code == 404
        assert (await other.client.get("/api/v1/llm/providers")).json()["providers"] == []

        for body, words in [
            (claude_body(claude_api, name=""), "name"),
            (claude_body(claude_api, kind="gemini"), "kind"),
            (claude_body(claude_api, base_url="ftp://example.com"), "http"),
            ({"name": "Local", "kind": "openai_compatible", "model": "llama3.2"}, "base url"),
            (claude_body(claude_api, secret="x"), "secret"),
        ]:
            refused = await me.client.post("/api/v1/llm/providers", json=body)
            assert (
                refused.status_code == 422 and words in refused.json()["error"]["message"].lower()
            ), refused.text
        taken = await me.client.post("/api/v1/llm/providers", json=claude_body(claude_api))
        assert taken.status_code == 409
        removed = await me.client.patch(
            f"/api/v1/llm/providers/{provider['id']}", json={"api_key": None}
        )
        assert removed.json()["has_api_key"] is False and removed.json()["api_key_last4"] is None
        assert (
            await me.client.delete(f"/api/v1/llm/providers/{provider['id']}")
        ).status_code == 204
        assert (
            await me.client.delete(f"/api/v1/llm/providers/{provider['id']}")
        ).status_code == 404
    entries = [e for e in await audit_entries("llm_provider.") if e.target_id == provider["id"]]
    assert [e.action for e in entries] == [
        "llm_provider.deleted",
        "llm_provider.updated",
        "llm_provider.updated",
        "llm_provider.created",
    ]
    assert all(e.actor_id == me.id and KEY not in str(e.details) for e in entries)
    assert set(entries[2].details["changed"]) == {"model", "enabled"}


async def test_system_providers_are_for_administrators(
    api_server: WebServer, models: LlmContext, claude_api: FakeAnthropic
) -> None:
    admin = await fresh_user(api_server, "admin", admin=True)
    user = await fresh_user(api_server)
    async with admin.client, user.client:
        refused = await user.client.post(
            "/api/v1/llm/providers", json=claude_body(claude_api, system=True)
        )
        assert refused.status_code == 403 and "administrators" in refused.json()["error"]["message"]
        made = await admin.client.post(
            "/api/v1/llm/providers",
            json=claude_body(claude_api, name="Shared Claude", system=True, priority=3),
        )
        assert made.status_code == 201 and made.json()["source"] == "system"
        system_id = made.json()["id"]
        seen = (await user.client.get("/api/v1/llm/providers")).json()["providers"]
        assert [(p["name"], p["source"]) for p in seen] == [("Shared Claude", "system")]
        assert (
            await user.client.patch(f"/api/v1/llm/providers/{system_id}", json={"enabled": False})
        ).status_code == 404
        assert (await admin.client.get("/api/v1/llm/providers")).json()["can_manage_system"] is True
        tested = await admin.client.post(f"/api/v1/llm/providers/{system_id}/test")
        assert tested.status_code == 200 and tested.json()["status"] == "healthy"
        assert (await admin.client.delete(f"/api/v1/llm/providers/{system_id}")).status_code == 204


async def test_the_test_button_records_health(
    api_server: WebServer, models: LlmContext, claude_api: FakeAnthropic
) -> None:
    me = await fresh_user(api_server)
    async with me.client:
        good = (await me.client.post("/api/v1/llm/providers", json=claude_body(claude_api))).json()
        bad = (
            await me.client.post(
                "/api/v1/llm/providers",
                json=claude_body(claude_api, name="Wrong key", api_key="sk-wrong"),
            )
        ).json()
        ok = (await me.client.post(f"/api/v1/llm/providers/{good['id']}/test")).json()
        assert ok["status"] == "healthy" and ok["error"] is None and ok["latency_ms"] >= 0
        failed = (await me.client.post(f"/api/v1/llm/providers/{bad['id']}/test")).json()
        assert failed["status"] == "unreachable" and "refused the API key" in failed["error"]
        rows = {
            p["name"]: p for p in (await me.client.get("/api/v1/llm/providers")).json()["providers"]
        }
        assert rows["Claude"]["health_status"] == "healthy" and rows["Claude"]["health_checked_at"]
        assert (
            rows["Wrong key"]["health_status"] == "unreachable"
            and "401" in rows["Wrong key"]["last_error"]
        )
    assert claude_api.requests == []


async def test_models_lists_capabilities_and_who_uses_them(
    api_server: WebServer, models: LlmContext
) -> None:
    me = await fresh_user(api_server)
    async with me.client:
        body = {
            "name": "Home Ollama",
            "kind": "openai_compatible",
            "model": "llama3.2:3b",
            "base_url": "http://127.0.0.1:11434/v1",
        }
        assert (await me.client.post("/api/v1/llm/providers", json=body)).status_code == 201
        body = {
            "name": "Odd",
            "kind": "openai_compatible",
            "model": "my-finetune",
            "base_url": "http://127.0.0.1:1234/v1",
        }
        assert (await me.client.post("/api/v1/llm/providers", json=body)).status_code == 201
        listing = (await me.client.get("/api/v1/llm/models")).json()["models"]
    first, second = listing[0], listing[1]
    used = {m["model"]: m for m in listing if m["providers"]}
    assert set(used) == {"llama3.2:3b", "my-finetune"} and {first["model"], second["model"]} == set(
        used
    )
    assert used["llama3.2:3b"]["known"] and "tool_use" in used["llama3.2:3b"]["features"]
    assert not used["my-finetune"]["known"] and used["my-finetune"]["features"] == ["chat"]
    assert any(m["model"] == "claude-sonnet-4-6" and "vision" in m["features"] for m in listing)


async def test_the_health_job_checks_everyone(
    api_server: WebServer, models: LlmContext, claude_api: FakeAnthropic
) -> None:
    me = await fresh_user(api_server)
    with FakeOpenAI(models=["llama3.2"]) as ollama:
        async with me.client:
            made = await me.client.post(
                "/api/v1/llm/providers", json=claude_body(claude_api, name="Checked")
            )
            local = {
                "name": "Local",
                "kind": "openai_compatible",
                "model": "llama3.2",
                "base_url": ollama.base_url,
            }
            assert (await me.client.post("/api/v1/llm/providers", json=local)).status_code == 201
            now = datetime.now(UTC)
            job = JobRecord(
                1, "executing", "download", ProviderHealthCheck.name, {}, {}, 0, 1, 1, [], now, now
            )
            result = await ProviderHealthCheck().perform(job)
            assert result["checked"] >= 2 and result["resealed"] == 0
            rows = {
                p["name"]: p
                for p in (await me.client.get("/api/v1/llm/providers")).json()["providers"]
            }
    assert (
        rows["Checked"]["health_status"] == "healthy"
        and rows["Local"]["health_status"] == "healthy"
    )
    assert made.status_code == 201 and models.health[made.json()["id"]].status == "healthy"
