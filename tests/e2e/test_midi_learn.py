"""MIDI learn from the track page, in headless Chromium, with a controller on JACK.

The musician turns learn mode on, clicks the vocals fader, moves a knob on a controller
(a virtual JACK port played by the test, as another program would): the mapping is saved
for that device, and from then on the knob moves the page's fader — once it has picked the
fader's value up (soft takeover). The MIDI page then shows the controller, its messages and
the mapping, and deletes it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from soundforge.actors import repo
from soundforge.studio.midi import list_mappings
from soundforge.supervisors.root import NAMES
from soundforge.web import url
from tests.e2e.conftest import Problems, watch
from tests.e2e.test_track import browser_context, signed_in, wait_for
from tests.jobs.conftest import running_studio
from tests.studio.midi.conftest import VirtualDevice, jackd
from tests.web.api.helpers import seed_track
from tests.web.conftest import WebServer

__all__ = ["browser_context", "jackd"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
async def midi_server(jackd: str, database_url: str) -> AsyncIterator[WebServer]:
    settings = {"port": 0, "allow_private_urls": True, "midi": True}
    async with running_studio(database_url, settings, web=True) as studio:
        yield WebServer(studio, await url())


async def test_learn_a_knob_for_the_vocals_fader(
    midi_server: WebServer, browser_context: Any, problems: Problems
) -> None:
    server = midi_server
    seeded = await seed_track(server, server.admin_id, stems=("vocals", "drums"), seconds=2.0)
    document = {"version": 1, "duration_ms": 2000, "sample_rate": 44100, "channels": 2}
    async with repo.connection(NAMES.repo) as conn:  # the track page reads a real document
        await conn.execute(
            "UPDATE analyses SET result = $2::jsonb WHERE track_id = $1::uuid",
            seeded.track_id,
            json.dumps({**document, "tempo": 120.0}),
        )
    device = await VirtualDevice.open(f"Knobs{uuid.uuid4().hex[:6]}")
    try:
        await signed_in(browser_context, server, server.admin_id)
        page = await watch(browser_context, problems)
        await page.goto(f"{server.url}/tracks/{seeded.track_id}")
        await page.wait_for_selector("#play-button:not([disabled])", timeout=30_000)
        await wait_for(page, "__practice.sync.state === 'open' && 'rate' in __practice.sync.values")
        await wait_for(page, "document.querySelector('[data-midi-learn-toggle]') !== null")

        fader = '.stem-row[data-stem="vocals"] .stem-volume'
        await page.click("[data-midi-learn-toggle]")
        await page.click(fader)
        await wait_for(
            page, f"document.querySelector('{fader}').hasAttribute('data-midi-learning')"
        )
        # The device actor may still be opening its port: move the knob until it is learned.
        for _ in range(50):
            device.cc(21, 90)
            if not await page.eval_on_selector(
                fader, "el => el.hasAttribute('data-midi-learning')"
            ):
                break
            await page.wait_for_timeout(100)
        async with repo.connection(NAMES.repo) as conn:
            mappings = await list_mappings(conn, server.admin_id)
        assert [(m.device_name, m.message_type, m.number, m.action) for m in mappings] == [
            (device.device_name, "cc", 21, "stem.vocals.volume")
        ]
        assert await page.get_attribute(fader, "data-midi-learning") is None
        await page.click("[data-midi-learn-toggle]")  # learn mode off: the knob plays

        # Soft takeover: the fader is at 100 %; the knob acts once it reaches it.
        device.cc(21, 30)
        await page.wait_for_timeout(300)
        assert await page.eval_on_selector(fader, "el => el.value") == "100"
        for value in (126, 127, 100, 64):
            device.cc(21, value)
        await wait_for(page, f"document.querySelector('{fader}').value === '50'")
        await wait_for(page, "Math.abs(__player.snapshot().stems.vocals.volume - 64 / 127) < 1e-6")

        # The MIDI page lists the controller, what it just sent, and the mapping, which it deletes.
        midi = await watch(browser_context, problems)
        await midi.goto(f"{server.url}/studio/midi")
        await midi.wait_for_selector(f'#midi-devices [data-device="{device.device_name}"]')
        assert await midi.get_attribute("#midi-status", "data-available") == "true"
        await wait_for(
            midi, "document.getElementById('midi-monitor').textContent.includes('CC 21')"
        )
        row = "#mapping-rows tr"
        assert "stem.vocals.volume" in (await midi.text_content(row) or "")
        await midi.click(f"{row} [data-delete]")
        await wait_for(midi, "document.querySelectorAll('#mapping-rows tr').length === 0")
        async with repo.connection(NAMES.repo) as conn:
            assert await list_mappings(conn, server.admin_id) == []
    finally:
        await device.close()
