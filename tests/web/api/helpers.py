"""Helpers for the JSON API tests: fresh users with tokens, and library rows without the
pipeline (a seeded track has real stem files under the server's data directory, an analysis
and, on request, a job that waits far in the future so no worker takes it)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from soundforge.accounts import AuditEntry, create_session, list_entries
from soundforge.actors import repo
from soundforge.audio.media import write_audio
from soundforge.audio.separation.options import StemFile
from soundforge.music import tracks
from soundforge.queue import engine
from soundforge.runtime.gen_server import get_state
from soundforge.supervisors.root import NAMES
from soundforge.web import DEFAULT_NAME
from soundforge.web.auth import CSRF_COOKIE, SESSION_COOKIE
from soundforge.web.context import WebContext
from tests.web.conftest import WebServer, api_client, api_token, new_user

__all__ = [
    "Seeded",
    "User",
    "audit_entries",
    "fresh_user",
    "seed_job",
    "seed_track",
    "session_client",
    "suspend",
    "web_context",
]


class User(msgspec.Struct):
    id: str
    email: str
    token: str
    client: httpx.AsyncClient


async def fresh_user(server: WebServer, name: str = "user", *, admin: bool = False) -> User:
    """A new account with an API token and a client that sends it."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    user_id = await new_user(email, admin=admin)
    token = await api_token(user_id)
    return User(user_id, email, token, api_client(server, token))


async def suspend(server: WebServer, user_id: str) -> None:
    """Suspend through the admin API, as an administrator does (every node forgets the
    user's credentials at once; a change made in the database directly takes up to the
    credential cache's TTL)."""
    async with api_client(server, await api_token(server.admin_id, f"admin-{user_id}")) as admin:
        response = await admin.patch(f"/api/v1/admin/users/{user_id}", json={"status": "suspended"})
        assert response.status_code == 200, response.text


class Seeded(msgspec.Struct):
    track_id: str
    #: stem name → stem id
    stems: dict[str, str]
    #: stem name → file on disk
    files: dict[str, Path]


async def seed_track(
    server: WebServer,
    user_id: str,
    *,
    title: str = "Night Drive",
    artists: tuple[str, ...] = ("Kavinsky",),
    stems: tuple[str, ...] = ("vocals", "drums"),
    seconds: float = 1.0,
    tempo: float = 120.0,
    camelot: str = "8A",
) -> Seeded:
    """A ready track with stems (real WAV files) and a current analysis."""
    data_dir = server.studio.data_dir
    async with repo.transaction(NAMES.repo) as conn:
        track_id = await tracks.create_track(
            conn,
            tracks.NewTrack(
                user_id=user_id, source_kind="upload", title=title, artists=list(artists)
            ),
        )
        folder = Path("tracks") / track_id
        original = folder / "source.wav"
        _write_noise(data_dir / original, seconds, seed=1)
        await tracks.record_download(
            conn,
            track_id,
            original_path=str(original),
            original_size=(data_dir / original).stat().st_size,
            content_hash=uuid.uuid4().hex * 2,
            duration_ms=round(seconds * 1000),
        )
        files: dict[str, Path] = {}
        written = []
        for index, stem in enumerate(stems):
            relative = folder / "stems" / "spleeter-dsp" / f"{stem}.wav"
            path = data_dir / relative
            _write_noise(path, seconds, seed=index + 2)
            files[stem] = path
            written.append(
                StemFile(
                    name=stem,
                    path=str(relative),
                    filename=path.name,
                    format="wav",
                    sample_rate=44100,
                    channels=2,
                    bit_depth=16,
                    duration_ms=round(seconds * 1000),
                    size_bytes=path.stat().st_size,
                )
            )
        await tracks.record_stems(conn, track_id, "default", "spleeter-dsp", written, {})
        document = {"tempo": {"bpm": tempo}, "key": {"camelot": camelot}, "title": title}
        await tracks.record_analysis(
            conn,
            track_id,
            version=1,
            result_json=msgspec.json.encode(document),
            options={},
            tempo=tempo,
            key="A minor",
            camelot=camelot,
            loudness_lufs=-9.0,
            duration_ms=round(seconds * 1000),
        )
        rows = await conn.fetch(
            "SELECT id::text, stem FROM stems WHERE track_id = $1::uuid", track_id
        )
    return Seeded(track_id, {r["stem"]: r["id"] for r in rows}, files)


#: A queue no node runs: a job in it stays where a test put it, even when retried.
PARKED = "parked"


async def seed_job(track_id: str, worker: str = "soundforge.analyze") -> int:
    """A pipeline job of the track, scheduled a day ahead in a queue nobody works."""
    async with repo.transaction(NAMES.repo) as conn:
        job = await engine.insert(
            conn,
            worker,
            {"track_id": track_id, "options": {}},
            queue=PARKED,
            scheduled_at=datetime.now(UTC) + timedelta(days=1),
            unique=None,
        )
    return job.id


async def web_context() -> WebContext:
    """The running endpoint's context (its rate limiter, settings...)."""
    state: Any = await get_state(DEFAULT_NAME)
    context: WebContext = state.context
    return context


def _write_noise(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal((2, int(44100 * seconds)))).astype(np.float32)
    write_audio(path, audio, 44100, format="wav", bit_depth=16)


async def session_client(server: WebServer, user_id: str) -> httpx.AsyncClient:
    """A browser-like client: a session cookie and the CSRF cookie and header (the
    double-submit pair), without going through the login page."""
    async with repo.connection(NAMES.repo) as conn:
        token = await create_session(conn, user_id, user_agent="tests", ip="127.0.0.1")
    csrf = secrets.token_urlsafe(16)
    client = api_client(server)
    host = httpx.URL(server.url).host
    client.cookies.set(SESSION_COOKIE, token, domain=host, path="/")
    client.cookies.set(CSRF_COOKIE, csrf, domain=host, path="/")
    client.headers["X-CSRF-Token"] = csrf
    return client


async def audit_entries(action: str, limit: int = 50) -> list[AuditEntry]:
    async with repo.connection(NAMES.repo) as conn:
        return await list_entries(conn, action=action, limit=limit)
