"""The pipeline with the outside world faked: a Spotify link found by a duration-matched
search, a file over the length limit, and an analyzer that hangs past its job's timeout."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest

from soundforge.actors import port_pool, repo
from soundforge.jobs.pipeline import PIPELINE_WORKERS, Analyze
from soundforge.music import tracks
from soundforge.music.imports import import_source
from soundforge.queue import JobRecord
from soundforge.supervisors.root import NAMES
from tests.fakes.media_server import MediaServer, SearchResult
from tests.fakes.spotify import FakeSpotify, spotify_id
from tests.jobs.conftest import running_studio, write_song
from tests.jobs.test_pipeline import follow, import_one, settled_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_spotify_link_is_matched_downloaded_and_processed(
    database_url: str, tmp_path: Path
) -> None:
    with FakeSpotify() as spotify, MediaServer() as media:
        track = spotify_id(7)
        spotify.add_track(track, "Night Drive", ["Neon Coast"], 8_000, album="Midnight")
        media.add_file("/right.wav", write_song(tmp_path / "right.wav", seconds=8.0), "audio/wav")
        media.add_file("/wrong.wav", write_song(tmp_path / "wrong.wav", seconds=3.0), "audio/wav")
        media.add_search(
            [
                SearchResult("Night Drive (Extended Mix)", "/wrong.wav", 430),
                SearchResult("Night Drive", "/right.wav", 8),
            ]
        )
        settings = {
            "spotify_client_id": spotify.client_id,
            "spotify_client_secret": spotify.client_secret,
            "spotify_api_url": spotify.api_base,
            "spotify_token_url": spotify.token_url,
            "media_search": media.search_template(),
        }
        async with running_studio(database_url, settings) as studio:
            link = f"https://open.spotify.com/track/{track}?si=abc"
            track_id = await import_one(studio, link)
            await follow(studio, track_id)
            row = await tracks.get_track(repo.pool(NAMES.repo), track_id)
            assert row.status == "ready", row.error
            assert (row.source_kind, row.spotify_id) == ("spotify", track)
            assert (row.title, row.artists, row.album) == (
                "Night Drive",
                ["Neon Coast"],
                "Midnight",
            )
            assert row.duration_ms == 8_000, "the search result within 10 s was taken"
            again = await import_source(studio.context, studio.user_id, link)
            assert again.created == [] and again.duplicates[0].reason == "spotify_id"


async def test_spotify_without_credentials_says_how_to_set_them(database_url: str) -> None:
    async with running_studio(database_url) as studio:
        from soundforge.audio.errors import UnsupportedSource

        with pytest.raises(UnsupportedSource, match="SOUNDFORGE_SPOTIFY_CLIENT_ID"):
            await import_source(
                studio.context, studio.user_id, f"https://open.spotify.com/track/{spotify_id(1)}"
            )


async def test_a_three_hour_file_over_the_limit_fails_in_one_sentence(
    database_url: str, tmp_path: Path
) -> None:
    long_file = tmp_path / "dj-set.mp3"
    await asyncio.to_thread(
        subprocess.run,
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=8000:cl=mono",
            "-t",
            "10800",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "8k",
            str(long_file),
        ],
        check=True,
    )
    async with running_studio(database_url, {"max_audio_minutes": 120.0}) as studio:
        track_id = await import_one(studio, str(long_file))
        await follow(studio, track_id, timeout=120)
        row = await tracks.get_track(repo.pool(NAMES.repo), track_id)
        assert row.status == "failed"
        assert row.error == (
            "dj-set.mp3 is 3:00:00 long; the limit is 2:00:00 "
            "(set SOUNDFORGE_MAX_AUDIO_MINUTES to allow longer audio)"
        )
        job = await settled_job(studio, "soundforge.download")
        assert job.state == "cancelled"
        assert not any((studio.data_dir / "tracks" / track_id).glob("*.wav"))


class _QuickAnalyze(Analyze):
    """Analyze under a timeout no analysis can meet (the same job name as the real one)."""

    name = Analyze.name
    stage_timeout = 0.05
    max_attempts: ClassVar[int] = 1

    def backoff(self, attempt: int) -> float:
        # The job row keeps the attempts the separation inserted it with (Analyze's three);
        # the test needs every one of them to time out, not Oban's 15 + 2^n s between them.
        return 0.0


async def test_an_analysis_past_its_timeout_kills_the_program_and_keeps_the_stems(
    database_url: str, tmp_path: Path
) -> None:
    workers: tuple[Any, ...] = tuple(_QuickAnalyze if w is Analyze else w for w in PIPELINE_WORKERS)
    async with running_studio(database_url, workers=workers) as studio:
        track_id = await import_one(studio, str(write_song(tmp_path / "song.wav", seconds=8.0)))
        await follow(studio, track_id)
        pool = repo.pool(NAMES.repo)
        row = await tracks.get_track(pool, track_id)
        assert row.status == "failed"
        job: JobRecord = await settled_job(studio, "soundforge.analyze")
        assert job.state == "discarded"
        assert row.error == "the analyze stage took longer than 0.05 seconds and was stopped"
        assert job.errors[-1].message.endswith(row.error)
        assert {s.stem for s in await tracks.stems_of(pool, track_id)} == {
            "vocals",
            "drums",
            "bass",
            "other",
        }
        status = await port_pool.status(port_pool.pool_name("analyzer"))
        for pid in status.os_pids:  # whatever runs now is a fresh, idle program
            assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert status.busy == 0
