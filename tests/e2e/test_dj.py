"""The DJ page in headless Chromium: two decks and the mixer, all state in the mixer session.

The first tests need no tracks: the crossfader and EQ laws (dj-crossfader.js) checked in the
browser, the crossfader, its curve, the EQ kills and the master read back from the Web Audio
graph (``window.__dj``), a second tab following the first and the state surviving a reload.
The last one drives two tracks that went through the real pipeline (upload, separation,
analysis): load them from the decks' pickers, play, sync the tempo from the analysed BPMs,
crossfade, mute a stem, set, trigger and clear a hot cue, CDJ cue, and a second tab and a
reload showing the same decks. The ``problems`` fixture fails a test on any console error or
CSP violation.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from soundforge.studio import mixers
from tests.e2e.conftest import Problems, watch
from tests.jobs.conftest import write_song
from tests.web.conftest import WebServer, api_client, api_token

pytestmark = [pytest.mark.timeout(600)]

#: The session's snapshot has arrived and the page shows it.
READY = "window.__dj && Object.keys(__dj.sync.values).length > 0"


async def js(page: Any, expression: str) -> Any:
    return await page.evaluate(f"() => {expression}")


async def wait_for(page: Any, expression: str, timeout: float = 10_000) -> None:
    await page.wait_for_function(f"() => {expression}", timeout=timeout)


async def open_dj(context: Any, problems: Problems, base: str) -> Any:
    page = await watch(context, problems)
    await page.goto(f"{base}/dj")
    await wait_for(page, READY)
    return page


async def slide(page: Any, selector: str, value: float) -> None:
    """Moves a range input as a hand does: its value, then the input event."""
    await page.locator(selector).evaluate(
        "(input, value) => { input.value = String(value);"
        " input.dispatchEvent(new Event('input', { bubbles: true })); }",
        value,
    )


async def gains_near(page: Any, deck: int, part: str, expected: float) -> None:
    """Waits (bounded) until the graph's gain glided to ``expected``."""
    await wait_for(page, f"Math.abs(__dj.mixer.deck({deck}).gains().{part} - {expected}) < 0.01")


async def test_the_crossfader_and_eq_laws(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await open_dj(admin_context, problems, server.url)
    checks = await js(
        page,
        """import('/static/js/dj-crossfader.js').then((m) => ({
            linear: [0, 0.25, 0.5, 1].map((x) => m.crossfaderGains(x, 'linear')),
            power: [0, 0.5, 1].map((x) => m.crossfaderGains(x, 'equal_power')),
            sums: [0.1, 0.3, 0.7, 0.9].map((x) => {
              const g = m.crossfaderGains(x, 'equal_power');
              return g.left ** 2 + g.right ** 2;
            }),
            clamped: [m.crossfaderGains(-1, 'linear'), m.crossfaderGains(2, 'equal_power')],
            unknown: m.crossfaderGains(0.25, 'sharp'),
            eq: [0, 0.25, 0.5, 0.75, 1].map((v) => m.eqDb(v)),
            filter: m.eqFilterDb(0),
            next: [m.nextCurve('linear'), m.nextCurve('equal_power')],
        }))""",
    )
    assert checks["linear"] == [
        {"left": 1, "right": 0},
        {"left": 0.75, "right": 0.25},
        {"left": 0.5, "right": 0.5},
        {"left": 0, "right": 1},
    ]
    assert checks["power"][0] == {"left": 1, "right": 0}
    assert checks["power"][2] == {"left": 0, "right": 1}
    middle = checks["power"][1]
    assert middle["left"] == pytest.approx(math.sqrt(0.5)) == middle["right"]
    assert checks["sums"] == pytest.approx([1, 1, 1, 1])  # equal power: constant loudness
    assert checks["clamped"] == [{"left": 1, "right": 0}, {"left": 0, "right": 1}]
    assert checks["unknown"] == {"left": 0.75, "right": 0.25}  # unknown curves are linear
    assert checks["eq"][0] == -math.inf  # the kill
    assert checks["eq"][1:] == pytest.approx([20 * math.log10(0.5), 0, 3, 6])
    assert checks["filter"] == -40
    assert checks["next"] == ["equal_power", "linear"]


async def test_the_mixer_drives_the_audio_graph_and_every_tab_follows(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await open_dj(admin_context, problems, server.url)
    assert await page.text_content("#deck-1 [data-part='title']") == "No track"
    assert await page.get_attribute("#deck-1 [data-part='play']", "disabled") is not None
    # The session's defaults: equal power, crossfader in the middle: both decks at -3 dB.
    assert await page.get_attribute("#crossfader-curve", "data-curve") == "equal_power"
    await gains_near(page, 1, "fader", math.sqrt(0.5))
    await gains_near(page, 2, "fader", math.sqrt(0.5))

    # The crossfader a quarter of the way: the equal-power law, then the linear one.
    await slide(page, "#crossfader", 25)
    await gains_near(page, 1, "fader", math.cos(0.25 * math.pi / 2))
    await gains_near(page, 2, "fader", math.sin(0.25 * math.pi / 2))
    await page.click("#crossfader-curve")
    assert await page.get_attribute("#crossfader-curve", "data-curve") == "linear"
    await gains_near(page, 1, "fader", 0.75)
    await gains_near(page, 2, "fader", 0.25)

    # EQ: deck 2's low killed (the filter 40 dB down), its high boosted, then the kill undone.
    await page.click("[data-strip='2'] [data-kill='low']")
    assert await page.get_attribute("[data-strip='2'] [data-kill='low']", "aria-pressed") == "true"
    await gains_near(page, 2, "low", -40)
    await slide(page, "#deck-2-eq-high", 100)
    await gains_near(page, 2, "high", 6)
    await page.click("[data-strip='2'] [data-kill='low']")
    await gains_near(page, 2, "low", 0)
    await slide(page, "#deck-1-volume", 40)
    await gains_near(page, 1, "volume", 0.4)
    await slide(page, "#master-volume", 80)
    await wait_for(page, "Math.abs(__dj.mixer.masterGain - 0.8) < 0.01")
    assert (await page.text_content("#master-value")).strip() == "80 %"

    # The server holds it all.
    snapshot = await mixers.snapshot(server.admin_id, "dj")
    values = snapshot.values
    assert values["crossfader"] == pytest.approx(0.25)
    assert values["crossfader.curve"] == "linear"
    assert values["deck.2.eq.low"] == pytest.approx(0.5)
    assert values["deck.2.eq.high"] == pytest.approx(1.0)
    assert values["deck.1.volume"] == pytest.approx(0.4)
    assert values["master.volume"] == pytest.approx(0.8)

    # A second tab shows the same mixer, and follows (and leads) changes.
    other = await open_dj(admin_context, problems, server.url)
    assert await other.input_value("#crossfader") == "25"
    assert await other.get_attribute("#crossfader-curve", "data-curve") == "linear"
    assert await other.input_value("#deck-2-eq-high") == "100"
    await gains_near(other, 1, "fader", 0.75)
    await gains_near(other, 1, "volume", 0.4)
    await slide(other, "#crossfader", 90)
    await wait_for(page, "document.querySelector('#crossfader').value === '90'")
    await gains_near(page, 2, "fader", 0.9)
    await page.click("#crossfader-curve")
    await wait_for(
        other, "document.querySelector('#crossfader-curve').dataset.curve === 'equal_power'"
    )
    await gains_near(other, 2, "fader", math.sin(0.9 * math.pi / 2))
    # A change from elsewhere (the API, as OSC and MIDI do) reaches both tabs.
    await mixers.control(server.admin_id, "dj", {"deck.1.eq.mid": 0.0}, origin="api")
    for tab in (page, other):
        await wait_for(tab, "document.querySelector('#deck-1-eq-mid').value === '0'")
        await gains_near(tab, 1, "mid", -40)
        assert (
            await tab.get_attribute("[data-strip='1'] [data-kill='mid']", "aria-pressed") == "true"
        )

    # A reload comes back to the same state.
    await page.reload()
    await wait_for(page, READY)
    assert await page.input_value("#crossfader") == "90"
    assert await page.get_attribute("#crossfader-curve", "data-curve") == "equal_power"
    assert await page.input_value("#master-volume") == "80"
    await gains_near(page, 1, "volume", 0.4)
    await gains_near(page, 2, "high", 6)


# -- two real tracks -----------------------------------------------------------------------


async def import_songs(server: WebServer, *paths: Path, timeout: float = 300.0) -> list[str]:
    """Uploads the files as the admin and waits (bounded) until every pipeline finished."""
    token = await api_token(server.admin_id, "dj tests")
    ids = []
    async with api_client(server, token) as client:
        for path in paths:
            with path.open("rb") as file:
                response = await client.post("/api/v1/uploads", files={"file": (path.name, file)})
            assert response.status_code == 202, response.text
            ids += [str(track_id) for track_id in response.json()["created"]]
        async with asyncio.timeout(timeout):
            for track_id in ids:
                while True:
                    track = (await client.get(f"/api/v1/tracks/{track_id}")).json()
                    if track["status"] in ("ready", "failed"):
                        break
                    await asyncio.sleep(0.5)
                assert track["status"] == "ready", track
    return ids


async def load(page: Any, deck: int, title: str) -> None:
    """Picks ``title`` in the deck's search and waits (bounded) until its stems are in."""
    search = page.locator(f"#deck-{deck} [data-part='search']")
    await search.fill(title.split()[0])
    result = page.locator(f"#deck-{deck} .deck-result", has_text=title)
    await result.click()
    await wait_for(page, f"__dj.decks[{deck}].loaded", timeout=60_000)
    assert await page.text_content(f"#deck-{deck} [data-part='title']") == title
    assert await page.locator(f"#deck-{deck} [data-part='results']").is_hidden()


async def position(page: Any, deck: int) -> float:
    return float(await js(page, f"__dj.decks[{deck}].player.currentTime"))


@pytest.mark.slow
async def test_two_decks_play_sync_cue_and_follow_across_tabs(
    server: WebServer, admin_context: Any, problems: Problems, tmp_path: Path
) -> None:
    first, second = await import_songs(
        server,
        await asyncio.to_thread(write_song, tmp_path / "Opening Set.wav", 8.0, 120.0),
        await asyncio.to_thread(write_song, tmp_path / "Closing Set.wav", 8.0, 132.0, 5),
    )
    page = await open_dj(admin_context, problems, server.url)
    await load(page, 1, "Opening Set")
    await load(page, 2, "Closing Set")
    info = await js(page, "({ 1: __dj.decks[1].info, 2: __dj.decks[2].info })")
    assert info["1"]["track_id"] == first and info["2"]["track_id"] == second
    bpm1, bpm2 = info["1"]["bpm"], info["2"]["bpm"]
    assert bpm1 and bpm2, info
    stems = await js(page, "__dj.decks[1].player.stems.map((s) => s.name)")
    assert set(stems) == set(info["1"]["stems"]) >= {"vocals", "drums", "bass", "other"}
    assert await page.locator("#deck-1 .stem-mute").count() == len(stems)

    # Play deck 1: the audio clock and the playhead move, and the session says so.
    context_time = await js(page, "__dj.context.currentTime")
    await page.click("#deck-1 [data-part='play']")
    await wait_for(page, "__dj.decks[1].player.playing && __dj.decks[1].player.currentTime > 0.5")
    assert await js(page, "__dj.context.currentTime") > context_time + 0.3
    assert await page.get_attribute("#deck-1 [data-part='play']", "data-playing") == "true"
    assert (await mixers.snapshot(server.admin_id, "dj")).values["deck.1.playing"] is True

    # Sync deck 2 to deck 1: its rate makes its BPM deck 1's (or half or double of it).
    await page.click("#deck-2 [data-part='sync']")
    await wait_for(page, "__dj.sync.values['deck.2.rate'] !== 1")
    rate = await js(page, "__dj.sync.values['deck.2.rate']")
    assert 0.5 <= rate <= 1.5
    assert any(bpm2 * rate == pytest.approx(bpm1 * k, rel=1e-6) for k in (0.5, 1, 2)), (
        bpm1,
        bpm2,
        rate,
    )
    assert await js(page, "__dj.decks[2].player.rate") == pytest.approx(rate)
    shown = await page.text_content("#deck-2 [data-part='bpm']")
    assert shown == f"{bpm2 * rate:.1f} BPM"

    # The crossfader all the way to deck 1: deck 2 silent in the graph.
    await slide(page, "#crossfader", 0)
    await gains_near(page, 1, "fader", 1)
    await gains_near(page, 2, "fader", 0)

    # Mute deck 1's vocals: the button and the player agree.
    vocals = page.locator("#deck-1 .stem-mute[data-stem='vocals']")
    await vocals.click()
    assert await vocals.get_attribute("aria-pressed") == "true"
    await wait_for(page, "__dj.decks[1].player.snapshot().stems.vocals.mute === true")

    # Pause deck 1, seek to 2 s: hot cue 8 (analysis seeds fill from 1) is set there.
    await page.click("#deck-1 [data-part='play']")
    await wait_for(page, "!__dj.decks[1].player.playing")
    hot = page.locator("#deck-1 .hotcue[data-hotcue='8']")
    if await hot.get_attribute("data-set") == "true":
        await hot.click(modifiers=["Shift"])
        await wait_for(page, "__dj.sync.values['deck.1.hotcue.8'] === null")
    await js(page, "__dj.decks[1].seek(2)")
    await wait_for(page, "Math.abs(__dj.decks[1].player.currentTime - 2) < 0.05")
    await hot.click()
    await wait_for(page, "__dj.sync.values['deck.1.hotcue.8'] !== null")
    assert await js(page, "__dj.sync.values['deck.1.hotcue.8']") == pytest.approx(2000, abs=60)
    assert await hot.get_attribute("data-set") == "true"
    # Elsewhere, then trigger it: back at 2 s.
    await js(page, "__dj.decks[1].seek(5)")
    await wait_for(page, "Math.abs(__dj.decks[1].player.currentTime - 5) < 0.05")
    await hot.click()
    await wait_for(page, "Math.abs(__dj.decks[1].player.currentTime - 2) < 0.1")

    # CDJ cue: paused at 3 s, cue sets the cue point; playing, cue goes back there and pauses.
    await js(page, "__dj.decks[1].seek(3)")
    await wait_for(page, "Math.abs(__dj.decks[1].player.currentTime - 3) < 0.05")
    await page.click("#deck-1 [data-part='cue']")
    await wait_for(page, "Math.abs(__dj.sync.values['deck.1.cue_ms'] - 3000) < 60")
    await page.click("#deck-1 [data-part='play']")
    await wait_for(page, "__dj.decks[1].player.currentTime > 3.5")
    await page.click("#deck-1 [data-part='cue']")
    await wait_for(page, "!__dj.decks[1].player.playing")
    await wait_for(page, "Math.abs(__dj.decks[1].player.currentTime - 3) < 0.1")

    # A second tab: the same tracks, tempo, mutes and hot cues; and it follows the first.
    other = await open_dj(admin_context, problems, server.url)
    await wait_for(other, "__dj.decks[1].loaded && __dj.decks[2].loaded", timeout=60_000)
    assert await js(other, "__dj.decks[2].player.rate") == pytest.approx(rate)
    assert await js(other, "__dj.decks[1].player.snapshot().stems.vocals.mute") is True
    assert await other.get_attribute("#deck-1 .hotcue[data-hotcue='8']", "data-set") == "true"
    assert await position(other, 1) == pytest.approx(3, abs=0.1)
    await page.click("#deck-1 .stem-mute[data-stem='vocals']")
    await wait_for(other, "__dj.decks[1].player.snapshot().stems.vocals.mute === false")
    await page.locator("#deck-1 .hotcue[data-hotcue='8']").click(modifiers=["Shift"])
    await wait_for(
        other,
        "document.querySelector('#deck-1 .hotcue[data-hotcue=\"8\"]').dataset.set === 'false'",
    )
    await other.click("#deck-2 [data-part='play']")
    await wait_for(page, "__dj.decks[2].player.playing && __dj.decks[2].player.currentTime > 0.3")
    await other.click("#deck-2 [data-part='play']")
    await wait_for(page, "!__dj.decks[2].player.playing")
    paused_at = await position(other, 2)
    await wait_for(page, f"Math.abs(__dj.decks[2].player.currentTime - {paused_at}) < 0.05")

    # A reload: both decks come back loaded, where they were.
    await page.reload()
    await wait_for(page, READY)
    await wait_for(page, "__dj.decks[1].loaded && __dj.decks[2].loaded", timeout=60_000)
    assert await page.text_content("#deck-2 [data-part='title']") == "Closing Set"
    assert await js(page, "__dj.decks[2].player.rate") == pytest.approx(rate)
    assert await position(page, 1) == pytest.approx(3, abs=0.1)
    assert await position(page, 2) == pytest.approx(paused_at, abs=0.05)
    assert await page.input_value("#crossfader") == "0"
