"""The render job through the real queue of a whole server: the written WAV shows every edit
sample by sample, the original file is byte-identical afterwards, the page's events arrive,
versions count up, one render per stem waits at a time, and a vanished file cancels the job
in one sentence."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import pytest
import soundfile as sf  # type: ignore[import-untyped]

from soundforge.actors import repo
from soundforge.audio.render import RegionEdit, frame_at, render
from soundforge.jobs.render import enqueue_render
from soundforge.music import daw, track_topic
from soundforge.music.daw import NewEdit, RenderState, StemRenderChanged, StemRenderProgress
from soundforge.queue import get_job
from soundforge.runtime import pubsub
from soundforge.runtime.process import receive
from soundforge.supervisors.root import NAMES
from tests.web.api.helpers import seed_track
from tests.web.conftest import WebServer, server

__all__ = ["server"]  # the web tests' fixture: a whole server on the test's database

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

RATE = 44100
EDITS = [
    NewEdit(op="trim", start_ms=100, end_ms=2900),
    NewEdit(op="split", start_ms=2000),
    NewEdit(op="mute", start_ms=500, end_ms=1000),
    NewEdit(op="gain", start_ms=1200, end_ms=1700, gain_db=-6.0),
    NewEdit(op="fade_in", start_ms=100, end_ms=400),
    NewEdit(op="fade_out", start_ms=2500, end_ms=2900),
]


async def finished(stem_id: str, timeout: float = 60.0) -> tuple[StemRenderChanged, list[Any]]:
    """This stem's render events until one completed or failed (bounded)."""
    seen: list[Any] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await receive()
            if (
                isinstance(event, StemRenderChanged | StemRenderProgress)
                and event.stem_id == stem_id
            ):
                seen.append(event)
                if isinstance(event, StemRenderChanged) and event.state in (
                    RenderState.COMPLETED,
                    RenderState.FAILED,
                ):
                    return event, seen


async def edited_vocals(server: WebServer) -> tuple[str, str]:
    seeded = await seed_track(server, server.admin_id, stems=("vocals", "drums"), seconds=3.0)
    stem = seeded.stems["vocals"]
    async with repo.connection(NAMES.repo) as conn:
        for edit in EDITS:
            await daw.add_edit(conn, server.admin_id, stem, edit)
        await daw.add_edit(conn, server.admin_id, stem, NewEdit(op="mute", start_ms=0, end_ms=50))
        await daw.undo(conn, server.admin_id, stem)  # undone: not rendered
    pubsub.subscribe(NAMES.pubsub, track_topic(seeded.track_id))
    return seeded.track_id, stem


async def start(server: WebServer, stem: str) -> daw.RenderJob:
    async with repo.connection(NAMES.repo) as conn:
        return await enqueue_render(conn, server.admin_id, stem)


def span(start_ms: int, end_ms: int) -> slice:
    return slice(frame_at(start_ms, RATE), frame_at(end_ms, RATE))


async def test_a_render_writes_every_edit_and_keeps_the_original(server: WebServer) -> None:
    track_id, stem = await edited_vocals(server)
    async with repo.connection(NAMES.repo) as conn:
        source = await daw.owned_stem(conn, server.admin_id, stem)
    original_path = server.studio.data_dir / source.path
    original_bytes = original_path.read_bytes()
    job = await start(server, stem)
    assert job.state in ("available", "executing") and job.stem_id == stem
    done, events = await finished(stem)
    assert done.state == RenderState.COMPLETED and done.version == 2, done
    assert events[0] == StemRenderChanged(track_id, stem, job.job_id, RenderState.STARTED, 1)
    assert any(isinstance(e, StemRenderProgress) and e.fraction == 1.0 for e in events)

    assert original_path.read_bytes() == original_bytes
    row = await repo.pool(NAMES.repo).fetchrow(
        """SELECT path, version, parent_stem_id::text AS parent, format, bit_depth
           FROM stems WHERE id = $1::uuid""",
        done.rendered_stem_id,
    )
    assert row["path"] == f"tracks/{track_id}/stems/spleeter-dsp/vocals.v2.wav"
    assert (row["version"], row["parent"], row["format"], row["bit_depth"]) == (2, stem, "wav", 32)
    original, _ = sf.read(original_path, dtype="float32", always_2d=True)
    rendered, rate = sf.read(server.studio.data_dir / row["path"], dtype="float32", always_2d=True)
    assert rate == RATE and rendered.shape == original.shape

    assert np.all(rendered[: frame_at(100, RATE)] == 0.0)  # trimmed
    assert np.all(rendered[frame_at(2900, RATE) :] == 0.0)
    assert np.all(rendered[span(500, 1000)] == 0.0)  # muted
    gained = original[span(1200, 1700)] * 10 ** (-6 / 20)
    np.testing.assert_allclose(rendered[span(1200, 1700)], gained, rtol=1e-6)
    np.testing.assert_allclose(rendered[span(1800, 2400)], original[span(1800, 2400)])  # as is
    middle = frame_at(250, RATE)  # halfway through the fade-in
    factor = math.sin(0.5 * math.pi * (middle - frame_at(100, RATE)) / frame_at(300, RATE))
    np.testing.assert_allclose(rendered[middle], original[middle] * factor, rtol=1e-5)
    live = [RegionEdit(e.op, e.start_ms, e.end_ms, e.gain_db) for e in EDITS]
    np.testing.assert_allclose(rendered, render(original, RATE, live), rtol=1e-6, atol=1e-7)

    state = await get_job(repo.pool(NAMES.repo), job.job_id)
    assert state is not None and state.state == "completed"
    async with repo.connection(NAMES.repo) as conn:
        view = await daw.get_render(conn, server.admin_id, stem, job.job_id)
        lane = await daw.get_lane(conn, server.admin_id, stem)
    assert (view.state, view.version, view.rendered_stem_id) == (
        "completed",
        2,
        done.rendered_stem_id,
    )
    assert [v.version for v in lane.versions] == [2] and lane.render is None


async def test_versions_count_up_and_one_render_waits_per_stem(server: WebServer) -> None:
    _, stem = await edited_vocals(server)
    first = await start(server, stem)
    again = await start(server, stem)  # waiting or running: the same job
    assert again.job_id == first.job_id
    done, _ = await finished(stem)
    assert done.version == 2
    second = await start(server, stem)
    assert second.job_id != first.job_id
    done, _ = await finished(stem)
    assert done.version == 3
    assert len(list((server.studio.data_dir / "tracks").rglob("vocals.v3.wav"))) == 1


async def test_a_vanished_file_cancels_the_render(server: WebServer) -> None:
    _, stem = await edited_vocals(server)
    async with repo.connection(NAMES.repo) as conn:
        source = await daw.owned_stem(conn, server.admin_id, stem)
    (server.studio.data_dir / source.path).unlink()
    job = await start(server, stem)
    done, _ = await finished(stem)
    assert done.state == RenderState.FAILED
    assert done.error == "the stem's file is missing; re-separate the track"
    async with asyncio.timeout(10):
        while True:
            state = await get_job(repo.pool(NAMES.repo), job.job_id)
            if state is not None and state.state == "cancelled":
                break
            await asyncio.sleep(0.05)
    versions = await repo.pool(NAMES.repo).fetchval(
        "SELECT count(*) FROM stems WHERE parent_stem_id = $1::uuid", stem
    )
    assert versions == 0
