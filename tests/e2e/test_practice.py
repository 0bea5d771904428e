"""Practice mode and the shared mixer on the track page, in headless Chromium.

A synthetic 120 BPM song goes through the real pipeline; then two tabs of the owner open its
page and the server's mixer session keeps them in step: a fader moved in one tab moves the
other tab's fader and its player's volume, a change made through the HTTP API or sent by an
OSC surface over real UDP moves both.
The practice panel is driven as a musician would: a count-in before the loop (its clicks are
scheduled on the audio clock, accent on the downbeat), the step-up trainer raising the tempo
as the tab plays a short loop and reports its passes, and presets saved, changed, loaded and
deleted. The ``problems`` fixture fails a test on any console error or CSP violation.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from pythonosc.udp_client import SimpleUDPClient

from soundforge.studio import osc
from tests.e2e.conftest import Problems, watch
from tests.e2e.test_track import browser_context, import_song, player, signed_in, wait_for
from tests.jobs.conftest import write_song
from tests.web.conftest import WebServer, api_client, api_token

__all__ = ["browser_context"]  # the desktop context fixture of the track page's tests

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


async def open_track(
    browser_context: Any, problems: Problems, server: WebServer, track: str
) -> Any:
    page = await watch(browser_context, problems)
    await page.goto(f"{server.url}/tracks/{track}")
    await page.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
    await wait_for(page, "__practice.sync.state === 'open' && __practice.sync.version >= 0")
    await wait_for(page, "'rate' in __practice.sync.values")
    return page


async def slide(page: Any, selector: str, value: float) -> None:
    """Moves a range input as a hand does: its value, then an input event."""
    await page.eval_on_selector(
        selector,
        "(el, v) => { el.value = String(v);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


async def test_two_tabs_and_the_api_share_one_mixer(
    server: WebServer, browser_context: Any, problems: Problems, tmp_path: Path
) -> None:
    track = await import_song(server, write_song(tmp_path / "Duet.wav", seconds=6.0, seed=5))
    await signed_in(browser_context, server, server.admin_id)
    first = await open_track(browser_context, problems, server, track)
    second = await open_track(browser_context, problems, server, track)

    # Every mixer control names its path, for MIDI learn.
    paths = await first.eval_on_selector_all(
        "#player [data-control], #practice [data-control]", "els => els.map(e => e.dataset.control)"
    )
    assert {
        "stem.vocals.volume",
        "stem.vocals.mute",
        "stem.drums.solo",
        "master.volume",
        "rate",
        "pitch",
        "loop.enabled",
        "transport.toggle",
        "practice.count_in",
        "practice.trainer.enabled",
        "practice.trainer.step",
        "practice.trainer.target",
        "practice.trainer.every",
    } <= set(paths)
    assert await first.get_attribute("#daw-link", "href") == f"/tracks/{track}/daw"

    # Tab A moves the vocals fader: tab B's fader and its player follow.
    vocals = '.stem-row[data-stem="vocals"] .stem-volume'
    await slide(first, vocals, 30)
    await wait_for(second, "__player.snapshot().stems.vocals.volume === 0.3")
    assert await second.eval_on_selector(vocals, "el => el.value") == "30"
    # And back: B mutes drums and shifts the pitch; A follows.
    await second.click('.stem-row[data-stem="drums"] .stem-mute')
    await slide(second, "#pitch", -3.5)
    await wait_for(
        first, "__player.snapshot().stems.drums.mute === true && __player.pitch === -3.5"
    )
    assert await first.text_content("#pitch-value") == "-3.5 st"
    assert (
        await first.get_attribute('.stem-row[data-stem="drums"] .stem-mute', "aria-pressed")
        == "true"
    )

    # A change through the HTTP API moves both pages.
    token = await api_token(server.admin_id, "mixer-test")
    async with api_client(server, token) as client:
        response = await client.post(
            f"/api/v1/studio/mixers/track:{track}",
            json={"values": {"stem.vocals.volume": 0.8, "rate": 0.75, "practice.count_in": 3}},
        )
        assert response.status_code == 200, response.text
    for page in (first, second):
        await wait_for(
            page, "__player.snapshot().stems.vocals.volume === 0.8 && __player.rate === 0.75"
        )
        assert await page.eval_on_selector(vocals, "el => el.value") == "80"
        assert (await page.text_content("#rate-value")).strip() == "75 %"
        assert await page.eval_on_selector("#count-in", "el => el.value") == "3"

    # An OSC surface over real UDP moves both pages' faders and players (the server's OSC
    # port acts on the focused session: the track these tabs opened last).
    osc_port = await osc.port()
    assert osc_port, "the OSC server is not listening"
    SimpleUDPClient("127.0.0.1", osc_port).send_message("/sf/stem/vocals/volume", 0.25)
    for page in (first, second):
        await wait_for(page, "__player.snapshot().stems.vocals.volume === 0.25")
        assert await page.eval_on_selector(vocals, "el => el.value") == "25"

    # Transport: play in A, and B plays too, near the same place; pause in B pauses A.
    await first.evaluate("() => __practice.sync.control({'practice.count_in': 0})")
    await wait_for(second, "__practice.sync.values['practice.count_in'] === 0")
    await first.click("#play-button")
    await wait_for(second, "__player.playing")
    await asyncio.sleep(0.5)
    a, b = (
        await first.evaluate("() => __player.currentTime"),
        await second.evaluate("() => __player.currentTime"),
    )
    assert abs(a - b) < 0.35, (a, b)
    await second.click("#play-button")
    await wait_for(first, "!__player.playing")

    # A reloaded tab gets the session's values back from the server.
    await second.reload()
    await second.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
    await wait_for(
        second, "__player.snapshot().stems.vocals.volume === 0.25 && __player.pitch === -3.5"
    )


async def test_count_in_trainer_and_presets(
    server: WebServer, browser_context: Any, problems: Problems, tmp_path: Path
) -> None:
    track = await import_song(server, write_song(tmp_path / "Etude.wav", seconds=8.0, seed=7))
    await signed_in(browser_context, server, server.admin_id)
    page = await open_track(browser_context, problems, server, track)
    bpm = await player(
        page, "JSON.parse(document.getElementById('track-data').textContent).analysis.tempo"
    )
    assert bpm and 60 < bpm < 200

    # A 1.5 s loop from 1 s, a count-in of 4 at 80 %: four clicks a beat apart, the first
    # accented, then playback starts from A.
    await page.uncheck("#loop-snap")
    await page.evaluate("() => { __player.seek(1.0); }")
    await page.click("#loop-set-a")
    await page.evaluate("() => { __player.seek(2.5); }")
    await page.click("#loop-set-b")
    await page.fill("#count-in", "4")
    await page.dispatch_event("#count-in", "change")
    await slide(page, "#rate", 80)
    await wait_for(page, "__practice.sync.values['practice.count_in'] === 4")
    await page.evaluate("() => __player.seek(2.2)")
    await page.click("#play-button")
    clicks = await player(page, "__practice.state.clicks")
    assert [c["accent"] for c in clicks] == [True, False, False, False]
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(clicks)]
    beat = 60 / (bpm * 0.8)
    assert all(abs(gap - beat) < 1e-6 for gap in gaps), (gaps, beat)
    assert await page.is_visible("#count-in-status")
    assert await player(page, "__player.playing") is False  # still counting in
    assert await player(page, "__player.currentTime") == pytest.approx(1.0, abs=0.01)
    await wait_for(page, "__player.playing", timeout=4 * beat * 1000 + 3000)
    started = await player(page, "__player.context.currentTime")
    assert started >= await player(page, "__practice.state.countInEnd") - 0.05
    assert await player(page, "__player.currentTime") < 1.6  # from A, not from 2.2

    # The trainer: +10 % every pass up to 100 %; the tab reports each wrap of the loop.
    await page.fill("#trainer-step", "10")
    await page.dispatch_event("#trainer-step", "change")
    await page.fill("#trainer-every", "1")
    await page.dispatch_event("#trainer-every", "change")
    await page.check("#trainer-enabled")
    await wait_for(page, "__practice.sync.values['practice.trainer.enabled'] === true")
    await wait_for(page, "__player.rate >= 0.9 - 1e-9", timeout=15_000)
    await wait_for(page, "__player.rate >= 1 - 1e-9", timeout=15_000)
    assert await player(page, "__player.rate") == pytest.approx(1.0)  # the target holds it
    passes = await player(page, "__practice.sync.values['practice.passes']")
    assert passes >= 2
    assert "pass" in await page.text_content("#trainer-passes")
    await page.click("#play-button")
    await wait_for(page, "!__player.playing")

    # Presets: save these settings, change everything, load them back, delete.
    await page.fill("#preset-name", "loop slow")
    await page.click("#preset-save")
    await page.wait_for_selector("#preset-message:not([hidden])")
    assert "Saved" in await page.text_content("#preset-message")
    await page.evaluate(
        "() => { __player.setPitch(5); __player.setRate(1.25); __player.clearLoop();"
        " __practice.sync.control({'practice.count_in': 0, 'practice.trainer.enabled': false}); }"
    )
    await wait_for(
        page, "__practice.sync.values.pitch === 5 && __practice.sync.values.rate === 1.25"
    )
    await page.select_option("#preset-select", label="loop slow")
    await page.click("#preset-load")
    await wait_for(page, "__player.pitch === 0 && __player.rate === 1 && __player.loop !== null")
    loop = await player(page, "__player.loop")
    assert loop["a"] == pytest.approx(1.0, abs=0.01) and loop["b"] == pytest.approx(2.5, abs=0.01)
    assert await page.eval_on_selector("#count-in", "el => el.value") == "4"
    assert await page.is_checked("#trainer-enabled")
    # The server's session has them too (the load was one control op).
    token = await api_token(server.admin_id, "preset-test")
    async with api_client(server, token) as client:
        values = (await client.get(f"/api/v1/studio/mixers/track:{track}")).json()["values"]
        assert values["loop.enabled"] is True and values["loop.a_ms"] == pytest.approx(1000, abs=10)
        assert values["practice.count_in"] == 4 and values["pitch"] == 0
        presets = (await client.get(f"/api/v1/tracks/{track}/practice-presets")).json()
        assert [p["name"] for p in presets] == ["loop slow"]
        assert presets[0]["settings"]["trainer"] == {
            "enabled": True,
            "step": pytest.approx(0.1),
            "target": 1.0,
            "every": 1,
        }
    await page.click("#preset-delete")
    await wait_for(page, "document.getElementById('preset-select').options.length === 0")
    assert "Deleted" in await page.text_content("#preset-message")
