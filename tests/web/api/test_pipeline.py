"""A link imported over the API goes through the real pipeline, and its stems come back.

The media fake serves a synthetic song over HTTP on 127.0.0.1 (the test server allows
private links); everything else is the real server: downloader, separator, analyzer.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.media_server import MediaServer
from tests.jobs.conftest import write_song
from tests.web.api.helpers import fresh_user
from tests.web.conftest import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420), pytest.mark.asyncio(loop_scope="module")]


async def settled(client: httpx.AsyncClient, track_id: str, timeout: float = 300.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            track = (await client.get(f"/api/v1/tracks/{track_id}")).json()
            if track["status"] in ("ready", "failed"):
                return track
            await asyncio.sleep(0.5)


async def test_an_imported_link_becomes_downloadable_stems(
    api_server: WebServer, tmp_path: Path
) -> None:
    song = write_song(tmp_path / "Night Drive.wav", seconds=8.0, bpm=120.0)
    user = await fresh_user(api_server)
    with MediaServer() as media:
        url = media.add_file("/night-drive.wav", song, "audio/wav")
        async with user.client:
            response = await user.client.post("/api/v1/imports", json={"url": url})
            assert response.status_code == 202, response.text
            (track_id,) = response.json()["created"]
            track = await settled(user.client, track_id)
            assert track["status"] == "ready", track
            assert track["analysis"]["tempo_bpm"] and track["stages"][-1]["state"] == "completed"

            separation = track["separations"][0]
            stems = {s["stem"]: s for s in separation["stems"]}
            assert set(stems) == {"vocals", "drums", "bass", "other"}
            for stem in stems.values():
                audio = await user.client.get(f"/api/v1/stems/{stem['id']}/audio")
                assert audio.status_code == 200
                assert audio.content[:4] == b"RIFF" and len(audio.content) == stem["size_bytes"]
                tail = await user.client.get(
                    f"/api/v1/stems/{stem['id']}/audio", headers={"Range": "bytes=-1000"}
                )
                assert tail.status_code == 206 and tail.content == audio.content[-1000:]

            archive = await user.client.get(f"/api/v1/tracks/{track_id}/stems.zip")
            assert archive.status_code == 200
            with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
                assert opened.testzip() is None
                sizes = {Path(i.filename).stem: i.file_size for i in opened.infolist()}
            assert sizes == {name: stem["size_bytes"] for name, stem in stems.items()}

            analysis = await user.client.get(f"/api/v1/tracks/{track_id}/analysis")
            assert analysis.status_code == 200 and analysis.json()

            # An upload goes the same way, and its stored copy is removed once fetched.
            other = write_song(tmp_path / "Day Drive.wav", seconds=4.0, bpm=100.0)
            files = [("file", ("Day Drive.wav", other.read_bytes(), "audio/wav"))]
            uploaded = await user.client.post("/api/v1/uploads", files=files)
            assert uploaded.status_code == 202, uploaded.text
            (upload_id,) = uploaded.json()["created"]
            assert (await settled(user.client, upload_id))["status"] == "ready"
            root = api_server.studio.data_dir / "uploads"
            assert not root.exists() or list(root.iterdir()) == []
