"""Imports over HTTP: link checks (SSRF), uploads (limits, names, bad files), rate limits.

The download queue is paused for the module, so imported tracks wait with their download
job queued and no pipeline runs beside these tests (``test_pipeline`` runs one for real).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from soundforge.queue.queues import pause_local, resume_local
from soundforge.web.context import WebContext
from soundforge.web.ratelimit import Limit
from tests.fakes.audio import tone_bytes
from tests.web.api.conftest import MAX_UPLOAD_MB
from tests.web.api.helpers import User, fresh_user, web_context
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def downloads_paused(api_server: WebServer) -> AsyncIterator[None]:
    await pause_local("download")
    yield
    await resume_local("download")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def linker(api_server: WebServer) -> AsyncIterator[User]:
    """One user for the many refused links (making an account hashes a password: slow)."""
    user = await fresh_user(api_server, "linker")
    yield user
    await user.client.aclose()


def uploads(server: WebServer) -> set[Path]:
    root = server.studio.data_dir / "uploads"
    return set(root.iterdir()) if root.exists() else set()


@contextlib.contextmanager
def private_urls_refused(context: WebContext) -> Iterator[None]:
    """The server as deployed: the test server allows private links (the media fake)."""
    settings = context.settings
    context.settings = msgspec.structs.replace(settings, allow_private_urls=False)
    try:
        yield
    finally:
        context.settings = settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/song.mp3",
        "http://localhost/song.mp3",
        "http://[::1]/song.mp3",
        "http://[::ffff:127.0.0.1]/song.mp3",
        "http://10.1.2.3/song.mp3",
        "http://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as one number
    ],
)
async def test_private_addresses_are_refused(linker: User, url: str) -> None:
    with private_urls_refused(await web_context()):
        response = await linker.client.post("/api/v1/imports", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == (
        "This server does not import from private network addresses."
    )
    assert (await linker.client.get("/api/v1/tracks")).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"url": "ftp://example.com/song.mp3"}, "ftp"),
        ({"url": "file:///etc/passwd"}, "command line"),
        ({"url": "/etc/passwd"}, "command line"),
        ({"url": "javascript:alert(1)"}, "not a link"),
        ({"url": ""}, "url"),
        ({}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
    ],
)
async def test_links_that_are_not_http_are_refused(
    linker: User, body: dict[str, str], words: str
) -> None:
    response = await linker.client.post("/api/v1/imports", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]["message"].lower()


async def test_an_upload_is_stored_under_a_safe_name(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    before = uploads(api_server)
    async with user.client:
        files = [("file", ("../../etc/Evil: Name?.wav", tone_bytes(1.0), "audio/wav"))]
        response = await user.client.post("/api/v1/uploads", files=files)
        assert response.status_code == 202, response.text
        outcome = response.json()
        (track_id,) = outcome["created"]
        assert outcome["duplicates"] == [] and outcome["source"] == "Evil_ Name_.wav"
        track = (await user.client.get(f"/api/v1/tracks/{track_id}")).json()
        assert track["source_kind"] == "upload" and track["source_name"] == "Evil_ Name_.wav"
        assert track["stages"][0]["stage"] == "download"  # queued for the pipeline
        # The folder goes once the download job has its copy, which may already be done.
        stored = uploads(api_server) - before
        assert len(stored) <= 1
        for folder in stored:
            assert [p.name for p in folder.iterdir()] == ["Evil_ Name_.wav"]

        again = await user.client.post("/api/v1/uploads", files=files)
        assert again.status_code == 202
        assert again.json()["created"] == []
        assert again.json()["duplicates"][0]["existing_id"] == track_id
    assert uploads(api_server) - before <= stored  # the duplicate's copy is gone


async def test_several_files_in_one_upload(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    async with user.client:
        files = [
            ("file", ("One.wav", tone_bytes(1.0, rate=8000), "audio/wav")),
            ("file", ("Two.wav", tone_bytes(1.0, rate=11025), "audio/wav")),
        ]
        response = await user.client.post("/api/v1/uploads", files=files)
        assert response.status_code == 202, response.text
        assert len(response.json()["created"]) == 2
        assert (await user.client.get("/api/v1/tracks")).json()["total"] == 2


async def test_a_corrupt_file_refuses_the_upload_and_leaves_nothing(
    api_server: WebServer,
) -> None:
    user = await fresh_user(api_server)
    before = uploads(api_server)
    async with user.client:
        files = [
            ("file", ("Good.wav", tone_bytes(1.0, rate=16000), "audio/wav")),
            ("file", ("Broken.wav", b"RIFF\x00\x00not really audio" * 100, "audio/wav")),
        ]
        response = await user.client.post("/api/v1/uploads", files=files)
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert message.startswith("Broken.wav is not") and message.count(".") <= 2
        assert (await user.client.get("/api/v1/tracks")).json()["total"] == 0
    assert uploads(api_server) == before


async def test_an_upload_over_the_limit_is_a_413(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    before = uploads(api_server)
    big = b"\x00" * ((MAX_UPLOAD_MB << 20) + 1024)
    async with user.client:
        response = await user.client.post(
            "/api/v1/uploads", files=[("file", ("big.wav", big, "audio/wav"))]
        )
        assert response.status_code == 413
        assert response.json()["error"]["message"] == (
            f"The upload is larger than this server's limit of {MAX_UPLOAD_MB} MB."
        )
        assert (await user.client.get("/api/v1/tracks")).json()["total"] == 0
    assert uploads(api_server) == before


async def test_an_upload_needs_a_file_field(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    async with user.client:
        response = await user.client.post("/api/v1/uploads", data={"name": "x"})
        assert response.status_code == 422
        assert "'file'" in response.json()["error"]["message"]


async def test_imports_are_rate_limited(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    context = await web_context()
    limits = dict(context.limiter.limits)
    context.limiter.limits["import"] = Limit(burst=2, per_second=1 / 60)
    try:
        async with user.client:
            for _ in range(2):
                refused = await user.client.post("/api/v1/imports", json={"url": "ftp://x.y/z"})
                assert refused.status_code == 422
            limited = await user.client.post(
                "/api/v1/uploads", files=[("file", ("a.wav", b"x", "audio/wav"))]
            )
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert "too many requests" in limited.json()["error"]["message"].lower()
            # Other groups are counted apart.
            assert (await user.client.get("/api/v1/tracks")).status_code == 200
    finally:
        context.limiter.limits = limits
