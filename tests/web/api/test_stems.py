"""Stems over HTTP: byte ranges, validators, attachment names and the streamed zip."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import msgspec
import pytest
import pytest_asyncio

from tests.web.api.helpers import Seeded, User, fresh_user, seed_track
from tests.web.conftest import WebServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Owner(msgspec.Struct):
    user: User
    seeded: Seeded

    @property
    def audio(self) -> str:
        return f"/api/v1/stems/{self.seeded.stems['vocals']}/audio"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner(api_server: WebServer) -> AsyncIterator[Owner]:
    user = await fresh_user(api_server, "owner")
    seeded = await seed_track(api_server, user.id, stems=("vocals", "drums", "bass"))
    yield Owner(user, seeded)
    await user.client.aclose()


async def test_the_whole_file_with_its_validators(owner: Owner) -> None:
    data = owner.seeded.files["vocals"].read_bytes()
    response = await owner.user.client.get(owner.audio)
    assert response.status_code == 200
    assert response.content == data
    headers = response.headers
    assert headers["content-type"] == "audio/wav"
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-length"] == str(len(data))
    assert headers["etag"].startswith('"') and headers["last-modified"].endswith("GMT")
    assert "content-disposition" not in headers
    head = await owner.user.client.head(owner.audio)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data))


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=-100", -100, None),
        ("bytes=1000-", 1000, None),
        ("bytes=10-10", 10, 11),
    ],
)
async def test_a_single_range_is_a_206(
    owner: Owner, range_: str, start: int, end: int | None
) -> None:
    data = owner.seeded.files["vocals"].read_bytes()
    response = await owner.user.client.get(owner.audio, headers={"Range": range_})
    assert response.status_code == 206, response.text
    part = data[start:end]
    assert response.content == part
    first = start % len(data)
    assert response.headers["content-range"] == f"bytes {first}-{first + len(part) - 1}/{len(data)}"
    assert response.headers["content-length"] == str(len(part))


async def test_a_range_past_the_end_is_a_416(owner: Owner) -> None:
    size = owner.seeded.files["vocals"].stat().st_size
    response = await owner.user.client.get(owner.audio, headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["error"]["status"] == 416


async def test_validators_answer_304_and_guard_ranges(owner: Owner) -> None:
    client = owner.user.client
    first = await client.get(owner.audio)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"other", W/{etag}'},
                    {"If-Modified-Since": modified}):  # fmt: skip
        response = await client.get(owner.audio, headers=headers)
        assert response.status_code == 304, headers
        assert response.content == b"" and response.headers["etag"] == etag
    changed = await client.get(owner.audio, headers={"If-None-Match": '"something else"'})
    assert changed.status_code == 200
    stale = await client.get(owner.audio, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and len(stale.content) == len(first.content)
    fresh = await client.get(owner.audio, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and len(fresh.content) == 10


async def test_download_names_the_file_after_the_track(api_server: WebServer, owner: Owner) -> None:
    response = await owner.user.client.get(owner.audio, params={"download": 1})
    assert response.headers["content-disposition"] == (
        'attachment; filename="Kavinsky - Night Drive (vocals).wav"'
    )
    seeded = await seed_track(api_server, owner.user.id, title="Été", artists=("Björk",))
    response = await owner.user.client.get(
        f"/api/v1/stems/{seeded.stems['drums']}/audio", params={"download": "true"}
    )
    assert response.headers["content-disposition"] == (
        'attachment; filename="Bjork - Ete (drums).wav"; '
        "filename*=UTF-8''Bj%C3%B6rk%20-%20%C3%89t%C3%A9%20%28drums%29.wav"
    )


async def test_a_missing_stem_file_is_a_404(api_server: WebServer) -> None:
    user = await fresh_user(api_server)
    seeded = await seed_track(api_server, user.id)
    seeded.files["drums"].unlink()
    async with user.client:
        response = await user.client.get(f"/api/v1/stems/{seeded.stems['drums']}/audio")
        assert response.status_code == 404
        assert "missing" in response.json()["error"]["message"]
        zipped = await user.client.get(f"/api/v1/tracks/{seeded.track_id}/stems.zip")
        assert zipped.status_code == 404
        malformed = await user.client.get("/api/v1/stems/not-a-uuid/audio")
        assert malformed.status_code == 404


async def test_the_zip_holds_every_stem(owner: Owner) -> None:
    url = f"/api/v1/tracks/{owner.seeded.track_id}/stems.zip"
    async with owner.user.client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"] == (
            'attachment; filename="Kavinsky - Night Drive (stems).zip"'
        )
        assert "content-length" not in response.headers  # streamed as it is written
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
        assert names == [f"Kavinsky - Night Drive/{s}.wav" for s in ("bass", "drums", "vocals")]
        for stem, path in owner.seeded.files.items():
            assert archive.read(f"Kavinsky - Night Drive/{stem}.wav") == path.read_bytes()
    other = await owner.user.client.get(url, params={"model": "htdemucs"})
    assert other.status_code == 404 and "htdemucs" in other.json()["error"]["message"]
