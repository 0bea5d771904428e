"""The library over the real pipeline: a new track is announced, its stages show up as the
queue runs them, and a re-separation runs through the pipeline again (then re-analyses)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.music import library
from soundforge.music.events import (
    DuplicateFound,
    TrackCreated,
    TrackStatusChanged,
    user_topic,
)
from soundforge.music.imports import import_source
from soundforge.runtime import pubsub
from soundforge.runtime.process import receive
from soundforge.supervisors.root import NAMES
from tests.jobs.conftest import running_studio, write_song

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def until_status(track_id: str, status: str, timeout: float = 180.0) -> list[Any]:
    """Events of the user's topic until ``track_id`` reaches ``status`` (bounded)."""
    events: list[Any] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await receive()
            events.append(event)
            if isinstance(event, TrackStatusChanged) and event.track_id == track_id:
                assert event.status != "failed", event
                if event.status == status:
                    return events


async def test_import_announce_stages_and_reseparate(database_url: str, tmp_path: Path) -> None:
    song = write_song(tmp_path / "Night Drive.wav", seconds=6.0)
    async with running_studio(database_url) as studio:
        pool = repo.pool(NAMES.repo)
        pubsub.subscribe(studio.context.pubsub, user_topic(studio.user_id))
        outcome = await import_source(studio.context, studio.user_id, str(song), allow_paths=True)
        (track_id,) = outcome.created

        events = await until_status(track_id, "ready")
        # Announced first, once committed: the track was there for whoever looked.
        assert events[0] == TrackCreated(track_id, studio.user_id, "Night Drive", "local")
        summary = await library.get_track_summary(pool, studio.user_id, track_id)
        assert [(s.stage, s.state, s.progress) for s in summary.stages] == [
            ("download", "completed", 1.0),
            ("separate", "completed", 1.0),
            ("analyze", "completed", 1.0),
        ]
        assert summary.tempo_bpm is not None and summary.camelot is not None
        before = await library.track_detail(pool, studio.user_id, track_id)

        # The separate job that completed does not stand in the way of another one.
        job = await library.reseparate(pool, studio.user_id, track_id, {"engine": "default"})
        assert job.id not in {j.id for j in before.jobs}
        await until_status(track_id, "ready")
        jobs = await library.track_jobs(pool, studio.user_id, track_id)
        assert [(j.stage, j.state) for j in jobs] == [
            ("download", "completed"),
            ("separate", "completed"),
            ("analyze", "completed"),
            ("separate", "completed"),
            ("analyze", "completed"),
        ]
        after = await library.track_detail(pool, studio.user_id, track_id)
        # The same engine and model replaced its stems in place: same rows, same ids.
        assert [s.id for s in after.separations[0].stems] == [
            s.id for s in before.separations[0].stems
        ]
        assert after.analysis is not None and before.analysis is not None
        assert after.analysis.id != before.analysis.id

        # The same file again is a duplicate: nothing is created, nothing announced.
        again = await import_source(studio.context, studio.user_id, str(song), allow_paths=True)
        assert again.created == []
        async with asyncio.timeout(10):
            assert isinstance(await receive(), DuplicateFound)
