"""The track page and the admin pages, as a browser without JavaScript receives them.

A real server (``server``); the track is written through the music context (its stems as rows
and its analysis as a document built from the analyser's own schema), so the page can be
checked without running the pipeline (``tests/e2e/test_track.py`` does that, in a browser).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from msgspec import json as msgjson

from soundforge.accounts import Action, record
from soundforge.actors import repo
from soundforge.audio.analysis.schema import (
    Analysis,
    Chord,
    Curve,
    Energy,
    LoopPoint,
    Loudness,
    Rhythm,
    Segment,
    Stats,
    Tonality,
)
from soundforge.audio.separation.options import StemFile
from soundforge.music import tracks
from soundforge.queue import engine
from soundforge.queue.job import new_job
from soundforge.supervisors.root import NAMES
from tests.web.conftest import WebServer, api_client, new_user, sign_in

pytestmark = pytest.mark.timeout(180)

STEMS = ("drums", "bass", "other", "vocals")


def _analysis() -> Analysis:
    stats = Stats(mean=0.1, std=0.01, min=0.0, max=0.3)
    beats = list(range(0, 16_000, 500))
    return Analysis(
        duration_ms=16_000,
        sample_rate=44_100,
        channels=2,
        tempo=120.0,
        key="A minor",
        camelot="8A",
        loudness_lufs=-9.4,
        rhythm=Rhythm(
            confidence=0.9, half_bpm=60.0, double_bpm=240.0, beats_ms=beats, downbeats_ms=beats[::4]
        ),
        tonality=Tonality(confidence=0.8),
        chords=[
            Chord(start_ms=0, end_ms=8000, label="Am"),
            Chord(start_ms=8000, end_ms=16000, label="F"),
        ],
        loudness=Loudness(range_lu=4.2, true_peak_dbtp=-0.8),
        energy=Energy(rms=stats, rms_db=stats, curve=Curve(hop_ms=500, values=[0.1, 0.2, 0.3])),
        structure=[
            Segment(start_ms=0, end_ms=8000, label="intro", group=0, energy=0.5),
            Segment(start_ms=8000, end_ms=16000, label="drop", group=1, energy=1.0),
        ],
        loops=[
            LoopPoint(
                start_ms=8000,
                end_ms=12000,
                start_bar=4,
                bars=2,
                beats=8,
                score=0.9,
                repetition=0.9,
                seam=0.9,
                energy=0.9,
                section="drop",
            ),
        ],
    )


async def _ready_track(user_id: str, title: str = "Night </script> Drive") -> str:
    """A ready track with four stem rows and an analysis (no audio files)."""
    async with repo.transaction(NAMES.repo) as conn:
        track_id = await tracks.create_track(
            conn,
            tracks.NewTrack(
                user_id=user_id,
                source_kind="upload",
                title=title,
                artists=["Kavinsky"],
                album="OutRun",
                duration_ms=16_000,
            ),
        )
        files = [
            StemFile(
                name=stem,
                path=f"tracks/{track_id}/stems/{stem}.wav",
                filename=f"{stem}.wav",
                format="wav",
                sample_rate=44_100,
                channels=2,
                bit_depth=16,
                duration_ms=16_000,
                size_bytes=1000,
            )
            for stem in STEMS
        ]
        await tracks.record_stems(conn, track_id, "default", "spleeter-dsp", files, {})
        analysis = _analysis()
        await tracks.record_analysis(
            conn,
            track_id,
            version=1,
            result_json=msgjson.encode(analysis),
            options={},
            tempo=analysis.tempo,
            key=analysis.key,
            camelot=analysis.camelot,
            loudness_lufs=analysis.loudness_lufs,
            duration_ms=analysis.duration_ms,
        )
    return track_id


@contextlib.asynccontextmanager
async def signed_in(server: WebServer, *credentials: str) -> AsyncIterator[httpx.AsyncClient]:
    client = await sign_in(server, *credentials)
    try:
        yield client
    finally:
        await client.aclose()


def _data_block(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="track-data">(.*?)</script>', html, re.S)
    assert match, "the page has no data block"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


async def test_the_owner_sees_the_track_page_with_player_panels_and_exports(
    server: WebServer,
) -> None:
    track_id = await _ready_track(server.admin_id)
    async with signed_in(server) as browser:
        response = await browser.get(f"/tracks/{track_id}")
    assert response.status_code == 200, response.text[:500]
    html = response.text
    # The header, escaped: a title cannot close the data block or inject markup.
    assert "Night &lt;/script&gt; Drive" in html and "Kavinsky" in html and "OutRun" in html
    assert "120.0 BPM" in html and "A minor" in html and "camelot-8A" in html
    # Camelot neighbours: one hour either way and the relative key.
    for code in ("7A", "9A", "8B"):
        assert f"camelot-{code}" in html
    assert "-9.4" in html and "4.2 LU" in html and "-0.8 dBTP" in html
    assert 'data-section="intro"' in html and 'data-section="drop"' in html
    assert 'data-loop-start-ms="8000"' in html and 'data-loop-end-ms="12000"' in html
    assert 'id="energy-chart"' in html and 'id="chord-strip"' in html
    assert 'id="waveform"' in html and 'id="stem-row-template"' in html
    assert 'id="help-dialog"' in html and "/static/js/track.js" in html
    assert "/static/css/track.css" in html
    # Exports: each stem, the zip of this separation, the analysis document.
    assert f"/api/v1/tracks/{track_id}/stems.zip?model=spleeter-dsp" in html
    assert f"/api/v1/tracks/{track_id}/analysis?download=1" in html
    assert len(re.findall(r'href="/api/v1/stems/[0-9a-f-]+/audio\?download=1"', html)) == len(STEMS)
    assert 'name="model"' in html and "htdemucs" in html  # the re-separation form

    data = _data_block(html)
    assert data["track_id"] == track_id and data["topic"] == f"track:{track_id}"
    (separation,) = data["separations"]
    assert separation["key"] == "default/spleeter-dsp" and data["selected"] == separation["key"]
    assert [s["name"] for s in separation["stems"]] == ["vocals", "drums", "bass", "other"]
    assert data["analysis"]["rhythm"]["beats_ms"][:3] == [0, 500, 1000]
    assert data["analysis"]["structure"][1]["label"] == "drop"
    assert data["title"] == "Night </script> Drive"
    # The page satisfies its own CSP: no inline script, style or handler.
    assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\"))[^>]*>", html)
    assert "style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


async def test_a_track_in_the_pipeline_shows_its_stages(server: WebServer) -> None:
    async with repo.connection(NAMES.repo) as conn:
        track_id = await tracks.create_track(
            conn, tracks.NewTrack(user_id=server.admin_id, source_kind="upload", title="Pending")
        )
    async with signed_in(server) as browser:
        html = (await browser.get(f"/tracks/{track_id}")).text
    for stage in ("download", "separate", "analyze"):
        assert f'data-stage="{stage}"' in html
    assert 'id="pipeline"' in html and 'id="player"' not in html
    assert _data_block(html)["separations"] == []


async def test_another_users_track_is_a_404_page_and_anonymous_visitors_sign_in(
    server: WebServer,
) -> None:
    track_id = await _ready_track(server.admin_id)
    await new_user("mallory@example.com", "a long password")
    async with signed_in(server, "mallory@example.com", "a long password") as browser:
        theirs = await browser.get(f"/tracks/{track_id}")
        malformed = await browser.get("/tracks/not-a-uuid")
    assert theirs.status_code == 404 and "text/html" in theirs.headers["Content-Type"]
    assert "Night" not in theirs.text
    assert malformed.status_code == 404
    async with api_client(server) as anonymous:
        response = await anonymous.get(f"/tracks/{track_id}")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/login?next=")


ADMIN_PAGES = ("/admin", "/admin/users", "/admin/audit", "/admin/queues")


async def test_admin_pages_are_forbidden_to_users(server: WebServer) -> None:
    await new_user("user@example.com", "a long password")
    async with signed_in(server, "user@example.com", "a long password") as browser:
        for path in ADMIN_PAGES:
            response = await browser.get(path)
            assert response.status_code == 403, path
            assert "administrators" in response.text
    async with api_client(server) as anonymous:
        response = await anonymous.get("/admin/users")
    assert response.status_code in (302, 303)


async def test_admin_pages_show_users_queues_and_the_audit_log(server: WebServer) -> None:
    other = await new_user("ana@example.com", "a long password")
    async with repo.connection(NAMES.repo) as conn:
        for n in range(60):
            await record(
                conn,
                Action.TOKEN_CREATED,
                actor_id=other,
                target_type="token",
                target_id=str(n),
                details={"name": f"token {n}"},
            )
    async with signed_in(server) as browser:
        pages = {path: await browser.get(path) for path in ADMIN_PAGES}
        for path, response in pages.items():
            assert response.status_code == 200, (path, response.text[:300])
            assert (
                "/static/js/admin.js" in response.text and "/static/css/admin.css" in response.text
            )
            assert "style=" not in response.text and not re.search(r"\son[a-z]+=", response.text)

        overview = pages["/admin"].text
        assert 'data-queue="download"' in overview and "accounts" in overview

        users = pages["/admin/users"].text
        assert "dj@example.com" in users and "ana@example.com" in users
        assert f'data-user-id="{other}"' in users and 'data-action="suspend"' in users

        queues = pages["/admin/queues"].text
        for queue in ("download", "processing", "analysis"):
            assert f'data-queue="{queue}"' in queues
        assert 'data-action="pause"' in queues and "running" in queues

        audit = pages["/admin/audit"].text
        assert audit.count("<code>token.created</code>") == 49 and 'id="audit-older"' in audit
        older = re.search(r'id="audit-older" href="([^"]+)"', audit)
        assert older
        second = await browser.get(older.group(1).replace("&amp;", "&"))
        # Newest first: the sign-in and 49 token entries, then the 11 oldest.
        assert second.status_code == 200 and "<code>user.login</code>" not in second.text
        assert second.text.count("<code>token.created</code>") == 11
        assert 'id="audit-older"' not in second.text

        filtered = (await browser.get("/admin/audit", params={"action": "user"})).text
        assert (
            "<code>user.login</code>" in filtered and "<code>token.created</code>" not in filtered
        )


async def test_the_queues_page_lists_jobs_that_need_attention(server: WebServer) -> None:
    # A queue no node runs, so its jobs stay where the test puts them.
    async with repo.connection(NAMES.repo) as conn:
        waiting = await engine.insert_job(conn, new_job("tests.Nightly", {}, queue="maintenance"))
        cancelled = await engine.insert_job(conn, new_job("tests.Nightly", {}, queue="maintenance"))
        await engine.cancel_job(conn, cancelled.id)
    async with signed_in(server) as browser:
        everything = (await browser.get("/admin/queues")).text
        only_retryable = (await browser.get("/admin/queues", params={"state": "retryable"})).text
    row = re.search(r'<tr data-queue="maintenance">(.*?)</tr>', everything, re.S)
    assert row and "not on this node" in row.group(1)
    assert re.search(r'data-count="available">1<', row.group(1))
    assert re.search(r'data-count="cancelled">1<', row.group(1))
    assert f'data-job-id="{cancelled.id}"' in everything
    assert f'data-job-id="{waiting.id}"' not in everything  # available: nothing to do
    assert f'data-job-id="{cancelled.id}"' not in only_retryable


async def test_admin_pages_answer_json_clients_with_json_errors(server: WebServer) -> None:
    await new_user("user@example.com", "a long password")
    async with signed_in(server, "user@example.com", "a long password") as browser:
        response = await browser.get("/admin", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


def test_page_data_escapes_script_endings() -> None:
    from soundforge.web.pages_track import clock, script_json

    text = str(script_json({"title": "</script><!-- & more"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"title": "</script><!-- & more"}
    assert (clock(None), clock(0), clock(61_400), clock(3_725_000)) == (
        "–",
        "0:00",
        "1:01",
        "1:02:05",
    )
