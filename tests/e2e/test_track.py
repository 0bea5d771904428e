"""The track page in headless Chromium, on a track that went through the real pipeline.

A synthetic song is uploaded through the API, downloaded, separated and analysed by the
server's own audio programs; then the page is driven as a musician would: play (the
AudioContext's clock and the playhead advance), mute and solo stems, slow down, set an A–B
loop (buttons and a shift-drag on the waveform) and hear the position wrap, download the zip
of the stems, and re-separate with live progress. The ``problems`` fixture fails the test on
any console error or CSP violation.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from soundforge.accounts import create_session
from soundforge.actors import repo
from soundforge.supervisors.root import NAMES
from tests.e2e.conftest import (
    Problems,
    admin_context_of,
    end_silently,
    hold_script,
    new_context,
    track_with_a_queued_download,
    watch,
)
from tests.jobs.conftest import write_song
from tests.web.conftest import WebServer, api_client, api_token

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

STEMS = {"vocals", "drums", "bass", "other"}


@pytest.fixture
async def browser_context(browser: Any) -> AsyncIterator[Any]:
    """A desktop-sized context that accepts downloads (closed after the test)."""
    context = await new_context(
        browser, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    try:
        yield context
    finally:
        await context.close()


async def import_song(server: WebServer, path: Path, timeout: float = 240.0) -> str:
    """Upload ``path`` as the admin and wait (bounded) until its pipeline finished."""
    token = await api_token(server.admin_id)
    async with api_client(server, token) as client:
        with path.open("rb") as file:
            response = await client.post("/api/v1/uploads", files={"file": (path.name, file)})
        assert response.status_code == 202, response.text
        (track_id,) = response.json()["created"]
        async with asyncio.timeout(timeout):
            while True:
                track = (await client.get(f"/api/v1/tracks/{track_id}")).json()
                if track["status"] in ("ready", "failed"):
                    break
                await asyncio.sleep(0.5)
    assert track["status"] == "ready", track
    assert {s["stem"] for s in track["separations"][0]["stems"]} >= STEMS
    return str(track_id)


async def signed_in(browser_context: Any, server: WebServer, user_id: str) -> None:
    """Give the browser a session of ``user_id`` (the login form has its own tests)."""
    async with repo.connection(NAMES.repo) as conn:
        token = await create_session(conn, user_id)
    await browser_context.add_cookies([{"name": "sf_session", "value": token, "url": server.url}])


async def player(page: Any, expression: str) -> Any:
    return await page.evaluate(f"() => {expression}")


async def wait_for(page: Any, expression: str, timeout: float = 10_000) -> None:
    await page.wait_for_function(f"() => {expression}", timeout=timeout)


async def test_play_mix_loop_and_download_a_separated_track(
    server: WebServer, browser_context: Any, problems: Problems, tmp_path: Path
) -> None:
    track_id = await import_song(server, write_song(tmp_path / "Night Drive.wav", seconds=8.0))
    await signed_in(browser_context, server, server.admin_id)
    page = await watch(browser_context, problems)
    await page.goto(f"{server.url}/tracks/{track_id}")
    await page.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
    assert set(await player(page, "__player.stems.map((s) => s.name)")) == STEMS
    assert await page.locator("#pipeline").is_hidden()

    # Play: the context's clock runs and the playhead (player, waveform, clock text) moves.
    context_time = await player(page, "__player.context.currentTime")
    await page.click("#play-button")
    await wait_for(page, "__player.playing && __player.currentTime > 0.5")
    assert await player(page, "__player.context.currentTime") > context_time + 0.3
    shown = await page.text_content("#time-current")
    await wait_for(
        page,
        "__waveform.time > 0.5 && "
        f"document.querySelector('#time-current').textContent !== {shown!r}",
    )
    assert await page.get_attribute("#play-button", "data-playing") == "true"

    # Mute a stem: the button, the row and the player agree.
    vocals = page.locator('.stem-row[data-stem="vocals"]')
    await vocals.locator(".stem-mute").click()
    assert await vocals.locator(".stem-mute").get_attribute("aria-pressed") == "true"
    assert await vocals.get_attribute("data-audible") == "false"
    assert await player(page, "__player.snapshot().stems.vocals.mute") is True
    # Keyboard: 2 selects the second stem, S solos it, S again unsolos.
    await page.locator("body").focus()
    second = (await player(page, "__player.stems.map((s) => s.name)"))[1]
    await page.keyboard.press("Digit2")
    await page.keyboard.press("s")
    assert await player(page, f"__player.snapshot().stems[{second!r}].solo") is True
    assert (
        await page.locator(f'.stem-row[data-stem="{second}"]').get_attribute("class")
        == "stem-row selected"
    )
    await page.keyboard.press("s")
    assert await player(page, f"__player.snapshot().stems[{second!r}].solo") is False
    # Speed: "[" five times is 75 %, shown on the slider's label; pitch is the player's business.
    for _ in range(5):
        await page.keyboard.press("BracketLeft")
    assert await player(page, "__player.rate") == pytest.approx(0.75)
    assert (await page.text_content("#rate-value")).strip() == "75 %"
    await page.click("#rate-reset")

    # A–B loop with the buttons, paused and without snapping to know the bounds exactly;
    # then play and hear the position wrap.
    await page.click("#play-button")
    await wait_for(page, "!__player.playing")
    await page.uncheck("#loop-snap")
    await page.evaluate("() => __player.seek(1.0)")
    await page.click("#loop-set-a")
    await page.evaluate("() => __player.seek(2.5)")
    await page.click("#loop-set-b")
    loop = await player(page, "__player.loop")
    assert loop["a"] == pytest.approx(1.0, abs=0.01) and loop["b"] == pytest.approx(2.5, abs=0.01)
    assert "Loop" in await page.text_content("#loop-range")
    await page.evaluate("() => __player.seek(1.0)")
    await page.click("#play-button")
    await wait_for(page, "__player.playing")
    positions = []
    for _ in range(30):  # 3 s of playback: two passes through a 1.5 s loop
        positions.append(await player(page, "__player.currentTime"))
        await asyncio.sleep(0.1)
    assert all(0.95 <= p <= 2.6 for p in positions), positions
    assert any(b < a for a, b in itertools.pairwise(positions)), "the loop never wrapped"
    await page.click("#loop-clear")
    assert await player(page, "__player.loop") is None

    # Shift-drag across the waveform selects a loop too.
    box = await page.locator("#waveform").bounding_box()
    y = box["y"] + box["height"] * 0.6
    await page.keyboard.down("Shift")
    await page.mouse.move(box["x"] + box["width"] * 0.25, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    await page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
    await page.mouse.up()
    await page.keyboard.up("Shift")
    loop = await player(page, "__player.loop")
    duration = await player(page, "__player.duration")
    assert loop is not None
    assert loop["a"] == pytest.approx(duration * 0.25, abs=0.3)
    assert loop["b"] == pytest.approx(duration * 0.75, abs=0.3)
    # A click on the waveform seeks.
    await page.keyboard.press("l")  # L clears a loop that is set
    assert await player(page, "__player.loop") is None
    await page.evaluate("() => __player.pause()")  # (it may have played to the end meanwhile)
    await page.mouse.click(box["x"] + box["width"] * 0.5, y)
    assert await player(page, "__player.currentTime") == pytest.approx(duration * 0.5, abs=0.3)

    # The help overlay lists the shortcuts.
    await page.keyboard.press("?")
    assert await page.locator("#help-dialog").is_visible()
    assert "Play / pause" in await page.text_content("#keymap-body")
    await page.keyboard.press("Escape")

    # Download the zip of the stems.
    async with page.expect_download() as info:
        await page.click("#download-zip")
    download = await info.value
    data = await asyncio.to_thread(Path(await download.path()).read_bytes)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    assert {Path(name).stem for name in names} >= STEMS, names
    assert all(archive_name.endswith(".wav") for archive_name in names)
    assert download.suggested_filename.endswith(".zip")


async def test_reseparating_shows_live_progress_until_the_track_is_ready_again(
    server: WebServer, browser_context: Any, problems: Problems, tmp_path: Path
) -> None:
    track_id = await import_song(server, write_song(tmp_path / "Loop.wav", seconds=6.0, seed=3))
    await signed_in(browser_context, server, server.admin_id)
    page = await watch(browser_context, problems)
    await page.goto(f"{server.url}/tracks/{track_id}")
    await page.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
    first_ids = await player(page, "JSON.stringify(__player.stems.map((s) => s.name))")

    await page.select_option('#reseparate-form select[name="model"]', "default/spleeter-dsp")
    await page.click('#reseparate-form button[type="submit"]')
    await page.wait_for_selector("#reseparate-message:not([hidden])")
    assert "Queued as job" in await page.text_content("#reseparate-message")
    assert await page.locator("#pipeline").is_visible()
    # Live: the separation stage moves, then the track is ready again and the pipeline hides.
    await wait_for(
        page,
        "['executing', 'started', 'completed'].includes("
        "document.querySelector('.stage[data-stage=\"separate\"]').dataset.state)",
        timeout=120_000,
    )
    await page.wait_for_selector("#pipeline", state="hidden", timeout=180_000)
    assert (await page.text_content("#track-status")).strip() == "ready"
    await page.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
    assert await player(page, "JSON.stringify(__player.stems.map((s) => s.name))") == first_ids


async def test_a_stage_that_ends_before_the_track_page_follows_it_still_shows(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    """The page was rendered with the download queued; it ended, telling nobody, before the
    page's script subscribed. The page reads itself again once the server confirms."""
    track_id, job_id = await track_with_a_queued_download(server, "Late Page")
    context = await admin_context_of(browser, server, service_workers="block")
    page = await watch(context, problems)
    held = await hold_script(page, "track.js")
    navigation = asyncio.create_task(page.goto(f"{server.url}/tracks/{track_id}"))
    await held.requested()
    download = page.locator('#pipeline .stage[data-stage="download"]')
    assert await download.get_attribute("data-state") == "scheduled"
    await end_silently(job_id)
    held.release()
    await navigation
    await page.wait_for_selector(
        '#pipeline .stage[data-stage="download"][data-state="completed"]', timeout=10_000
    )
    assert await download.locator(".stage-percent").inner_text() == "100 %"
    await context.close()
