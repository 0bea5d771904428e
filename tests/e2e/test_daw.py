"""The DAW page in headless Chromium: lanes drawn from the decoded stems on a beat grid, a
region selected by dragging (snapped to beats) and muted, a second edit undone and redone
with the keyboard, preview playback, and a render whose new version appears in the lane
while the original stays listed; the rendered file holds exactly the live edits. The
``problems`` fixture fails the test on any console error or CSP violation."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import numpy as np
import pytest
import soundfile as sf  # type: ignore[import-untyped]

from soundforge.actors import repo
from soundforge.audio.render import frame_at
from soundforge.jobs.render import RenderStem
from soundforge.queue import insert
from soundforge.supervisors.root import NAMES
from tests.e2e.conftest import Problems, admin_context_of, hold_script, watch
from tests.web.api.helpers import seed_track
from tests.web.conftest import WebServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SECONDS = 4.0
BEATS = list(range(0, 4000, 500))  # 120 BPM
RATE = 44100


async def seeded_track(server: WebServer) -> tuple[str, dict[str, str], dict[str, Any]]:
    seeded = await seed_track(server, server.admin_id, stems=("vocals", "drums"), seconds=SECONDS)
    document = {
        "version": 1,
        "duration_ms": 4000,
        "tempo": 120.0,
        "rhythm": {
            "beats_ms": BEATS,
            "downbeats_ms": BEATS[::4],
            "time_signature": {"beats_per_bar": 4, "confidence": 1.0},
        },
    }
    async with repo.connection(NAMES.repo) as conn:
        await conn.execute(
            "UPDATE analyses SET result = $2::jsonb WHERE track_id = $1::uuid",
            seeded.track_id,
            msgspec.json.encode(document).decode(),
        )
    return seeded.track_id, seeded.stems, {k: str(v) for k, v in seeded.files.items()}


async def drag(page: Any, selector: str, start: float, end: float) -> None:
    """Drag across the element from one fraction of its width to another."""
    box = await page.locator(selector).bounding_box()
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + start * box["width"], y)
    await page.mouse.down()
    for step in range(1, 6):
        fraction = start + (end - start) * step / 5
        await page.mouse.move(box["x"] + fraction * box["width"], y)
    await page.mouse.up()


async def live_edits(page: Any, stem: str) -> list[Any]:
    edits: list[Any] = await page.evaluate(
        """(stem) => window.__daw.lanes.get(stem).lane.edits
               .filter((e) => !e.undone).map((e) => [e.op, e.start_ms, e.end_ms])""",
        stem,
    )
    return edits


async def test_edit_undo_render_on_the_daw_page(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    track_id, stems, files = await seeded_track(server)
    vocals = stems["vocals"]
    lane = f'.daw-lane[data-stem-id="{vocals}"]'
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/tracks/{track_id}/daw")
    await page.wait_for_selector('#daw-page[data-loaded="2"]')
    assert await page.locator(".daw-lane").count() == 2
    assert await page.is_checked("#daw-snap")

    # A drag from ~1.05 s to ~1.95 s snaps to the beats at 1 s and 2 s; mute it.
    await drag(page, f"{lane} canvas", 0.2625, 0.4875)
    assert await page.evaluate("window.__daw.selection") == {
        "stemId": vocals,
        "startMs": 1000,
        "endMs": 2000,
    }
    await page.click('[data-op="mute"]')
    await page.wait_for_selector(f'{lane} .daw-edit[data-op="mute"]:not(.is-undone)')
    assert await live_edits(page, vocals) == [["mute", 1000, 2000]]

    # A gain on another region, then undone and redone from the keyboard, then undone.
    await drag(page, f"{lane} canvas", 0.7625, 0.8625)  # 3050 → 3000, 3450 → 3500
    await page.fill("#daw-gain-db", "-12")
    await page.click('[data-op="gain"]')
    await page.wait_for_selector(f'{lane} .daw-edit[data-op="gain"]:not(.is-undone)')
    assert await live_edits(page, vocals) == [["mute", 1000, 2000], ["gain", 3000, 3500]]
    await page.keyboard.press("Control+z")
    await page.wait_for_selector(f'{lane} .daw-edit[data-op="gain"].is-undone')
    await page.keyboard.press("Control+Shift+z")
    await page.wait_for_selector(f'{lane} .daw-edit[data-op="gain"]:not(.is-undone)')
    await page.keyboard.press("Control+z")
    await page.wait_for_selector(f'{lane} .daw-edit[data-op="gain"].is-undone')
    assert await live_edits(page, vocals) == [["mute", 1000, 2000]]
    assert not await page.is_disabled("#daw-redo")

    # Preview: both stems play through their envelopes.
    await page.click("#daw-play")
    await page.wait_for_function("() => window.__daw.audio.position > 0.3")
    await page.click("#daw-play")
    assert not await page.evaluate("window.__daw.audio.playing")

    # Render: live progress, then version 2 listed after the original.
    await page.click(f"{lane} .daw-render")
    await page.wait_for_selector(f'{lane} .daw-version[data-version="2"]', timeout=60_000)
    assert "version 2 rendered" in await page.inner_text(f"{lane} .daw-render-state")
    assert await page.locator(f'{lane} .daw-version[data-version="1"] audio').count() == 1
    src = await page.get_attribute(f'{lane} .daw-version[data-version="2"] audio', "src")
    assert src and src != f"/api/v1/stems/{vocals}/audio"
    fetched = await page.evaluate(
        """async (url) => {
             const response = await fetch(url);
             return [response.status, (await response.arrayBuffer()).byteLength];
           }""",
        src,
    )
    assert fetched[0] == 200 and fetched[1] > 44

    async with repo.connection(NAMES.repo) as conn:
        path = await conn.fetchval(
            "SELECT path FROM stems WHERE parent_stem_id = $1::uuid AND version = 2", vocals
        )
    original, _ = sf.read(files["vocals"], dtype="float32", always_2d=True)
    rendered, _ = sf.read(server.studio.data_dir / path, dtype="float32", always_2d=True)
    assert np.all(rendered[frame_at(1000, RATE) : frame_at(2000, RATE)] == 0.0)
    np.testing.assert_array_equal(  # the undone gain is not in the render
        rendered[frame_at(3000, RATE) : frame_at(3500, RATE)],
        original[frame_at(3000, RATE) : frame_at(3500, RATE)],
    )


async def test_a_render_that_ended_before_the_page_followed_the_track_shows_how(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    """The page was rendered with the lane's render queued; the render failed, telling
    nobody, before the page's script subscribed to the track. The lane says how it ended."""
    track_id, stems, _ = await seeded_track(server)
    vocals = stems["vocals"]
    lane = f'.daw-lane[data-stem-id="{vocals}"]'
    async with repo.connection(NAMES.repo) as conn:
        job = await insert(
            conn, RenderStem, {"track_id": track_id, "stem_id": vocals}, schedule_in=3600
        )
    context = await admin_context_of(browser, server, service_workers="block")
    page = await watch(context, problems)
    held = await hold_script(page, "daw.js")
    navigation = asyncio.create_task(page.goto(f"{server.url}/tracks/{track_id}/daw"))
    await held.requested()
    async with repo.connection(NAMES.repo) as conn:  # no event: nobody was listening
        await conn.execute(
            """UPDATE jobs SET state = 'discarded', attempt = 1, attempted_at = now(),
                   discarded_at = now(),
                   errors = '[{"attempt": 1, "kind": "error", "message": "The disk is full."}]'
               WHERE id = $1""",
            job.id,
        )
    held.release()
    await navigation
    await page.wait_for_selector('#daw-page[data-loaded="2"]')
    state = page.locator(f"{lane} .daw-render-state")
    await page.wait_for_function(
        "(selector) => document.querySelector(selector)?.textContent.startsWith('failed')",
        arg=f"{lane} .daw-render-state",
        timeout=10_000,
    )
    assert await state.inner_text() == "failed: The disk is full."
    assert await page.get_attribute(lane, "data-rendering") is None
    await context.close()
