"""A whole SoundForge node for pipeline tests: the real Root tree on the test's database.

``studio`` starts the same supervision tree ``soundforge serve`` runs (Repo, PubSub, port
pools with the real audio programs, the queues with the pipeline's workers) on a fresh
PostgreSQL database and a data directory of its own, and attaches the test as a process so
it can subscribe to PubSub topics and receive events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from soundforge.accounts import create_user
from soundforge.actors import repo
from soundforge.audio.media import write_audio
from soundforge.audio.separation.synth import synth_song
from soundforge.config import Settings
from soundforge.jobs.context import PipelineContext, pipeline_context
from soundforge.runtime.application import Application
from soundforge.runtime.node import Node
from soundforge.supervisors import Root, RootOptions
from soundforge.supervisors.root import NAMES


class Studio(msgspec.Struct):
    app: Any
    node: Node
    settings: Settings
    context: PipelineContext
    user_id: str

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


async def start_studio(
    database_url: str, data_dir: Path, settings: dict[str, Any] | None = None, **options: Any
) -> tuple[Studio, Any]:
    settings = Settings(
        data_dir=data_dir, database_url=database_url, node_name="studio-test", **(settings or {})
    )
    root = Root.child_spec(RootOptions(settings, **options))
    app = Application(root, handle_signals=False, stop_timeout=20.0)
    running = asyncio.ensure_future(app.run())
    async with asyncio.timeout(60):
        while not app.started.is_set():
            if running.done():
                raise AssertionError(f"the tree did not start: {app.failure}")
            await asyncio.sleep(0.01)
    app.node.attach()
    async with repo.connection(NAMES.repo) as conn:
        user = await create_user(conn, "dj@example.com", "correct horse battery")
    studio = Studio(app, app.node, settings, pipeline_context(), user.id)
    return studio, running


@contextlib.asynccontextmanager
async def running_studio(
    database_url: str, settings: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[Studio]:
    """A studio with extra settings or root options, stopped and removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="sf-studio-"))
    started, running = await start_studio(database_url, data_dir, settings, **options)
    try:
        yield started
    finally:
        started.app.request_stop("test done")
        await asyncio.wait_for(running, 60)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def studio(database_url: str) -> AsyncIterator[Studio]:
    async with running_studio(database_url) as started:
        yield started


def write_song(path: Path, seconds: float = 10.0, bpm: float = 120.0, seed: int = 0) -> Path:
    song = synth_song(seconds, bpm=bpm, seed=seed)
    write_audio(path, song.mixture, song.sample_rate, format="wav", bit_depth=16)
    return path


def write_noise(path: Path, seconds: float = 1.0) -> Path:
    rng = np.random.default_rng(1)
    write_audio(path, 0.1 * rng.standard_normal((2, int(44100 * seconds))), 44100)
    return path


def env_without_network() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1"}
