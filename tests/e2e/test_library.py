"""The library page and the PWA in a real browser (headless Chromium).

From a fresh server: the first registration lands on the library as the admin; a local file
imported with the file picker goes through the real pipeline while the row's stage
percentages move live over the WebSocket, until it says ready; dropping the same file again
is recognised as a duplicate. Then search, keyboard shortcuts and the phone layout on a
seeded library, and the PWA: a valid manifest, a service worker that activates and caches
the shell, serves the offline page, and still installs when one precache entry fails.
Every test also fails on console errors and CSP violations (``conftest.problems``).
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    FreshServer,
    Problems,
    add_tracks,
    end_silently,
    hold_script,
    new_context,
    sign_in_page,
    track_with_a_queued_download,
    watch,
)
from tests.jobs.conftest import write_song
from tests.web.conftest import WebServer, api_client

# Every stage percentage the rows show, as they change (recorded in the page, so that a
# value that lasted only a few milliseconds is not missed).
_RECORD_STAGES = """
window.__stages = [];
const last = {};
new MutationObserver(() => {
  for (const stage of document.querySelectorAll('.track .stage')) {
    const value = stage.querySelector('.stage-pct').textContent;
    if (last[stage.dataset.stage] === value) continue;
    last[stage.dataset.stage] = value;
    window.__stages.push(`${stage.dataset.stage}:${value}`);
  }
}).observe(document.getElementById('track-list'),
  { subtree: true, childList: true, characterData: true, attributes: true });
"""


async def register(page: Any, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/register")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="display_name"]', "First DJ")
    await page.fill('input[name="password"]', password)
    await page.fill('input[name="password_again"]', password)
    async with page.expect_navigation():
        await page.click('button[type="submit"]')


async def test_the_first_account_lands_on_the_library_as_admin(
    fresh_server: FreshServer, browser: Any, problems: Problems
) -> None:
    context = await new_context(browser)
    page = await watch(context, problems)
    await register(page, fresh_server.url, "first@example.com", "first password")
    assert page.url == f"{fresh_server.url}/"
    assert await page.title() == "Library · SoundForge"
    assert await page.is_visible('nav a[href="/admin"]')
    assert "Your library is empty" in await page.inner_text("#empty")
    await page.wait_for_selector("#library[data-ready]")
    # The library's topic is followed at once: the indicator says live.
    await page.wait_for_selector('[data-live-status][data-state="open"]')
    await context.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_an_imported_file_shows_its_pipeline_live_until_ready(
    fresh_server: FreshServer, browser: Any, problems: Problems, tmp_path: Path
) -> None:
    song = write_song(tmp_path / "Night Drive.wav", seconds=8.0)
    context = await new_context(browser)
    page = await watch(context, problems)
    await register(page, fresh_server.url, "producer@example.com", "producer password")
    await page.wait_for_selector("#library[data-ready]")
    await page.evaluate(_RECORD_STAGES)

    await page.set_input_files("#import-files", str(song))
    row = page.locator(".track").first
    await row.wait_for()
    assert await row.locator(".track-title").inner_text() == "Night Drive"
    started = time.monotonic()
    badge = row.locator(".status-badge")
    await page.wait_for_function(
        "() => document.querySelector('.track .status-badge')?.textContent === 'ready'",
        timeout=240_000,
    )
    seen = await page.evaluate("window.__stages")
    assert time.monotonic() - started < 240
    assert await badge.inner_text() == "ready"
    # Each stage was seen finishing, and progress arrived in between (not only 0 and 100 %).
    for stage in ("download", "separate", "analyze"):
        assert f"{stage}:100%" in seen, seen
    partial = [s for s in seen if not s.endswith((":0%", ":100%"))]
    assert partial, f"no live percentage between 0 and 100 %: {seen}"
    for stage in ("download", "separate", "analyze"):  # a bar never goes back
        values = [int(s.split(":")[1][:-1]) for s in seen if s.startswith(f"{stage}:")]
        assert values == sorted(values), seen
    # Without a reload: the row shows the analysis (the tempo of the synthetic song).
    assert await row.locator(".stage.state-done").count() == 3
    await page.wait_for_function(
        "() => document.querySelector('.track .track-facts dd')?.textContent !== '–'"
    )
    assert 100 <= float(await row.locator(".track-facts dd").first.inner_text()) <= 140
    print("stages seen:", seen)

    # Dropping the same file again is recognised, and nothing new is created.
    payload = base64.b64encode(song.read_bytes()).decode()
    await page.evaluate(
        """(data) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], 'Night Drive again.wav', { type: 'audio/wav' }));
          for (const type of ['dragenter', 'dragover', 'drop']) {
            document.body.dispatchEvent(new DragEvent(type,
              { dataTransfer: transfer, bubbles: true, cancelable: true }));
          }
        }""",
        payload,
    )
    toast = page.locator(".toast", has_text="You already have")
    await toast.wait_for()
    assert "Night Drive" in await toast.inner_text()
    assert await page.locator(".track").count() == 1
    await context.close()


async def test_a_stage_that_ends_before_the_page_follows_its_track_still_shows(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    """The race behind a flaky run: the list was read with the download queued, the download
    ended and announced it to nobody, and only then did the page subscribe to the track. The
    page reads the list again once the server confirms the subscription."""
    _, job_id = await track_with_a_queued_download(server, "Late Subscriber")
    context = await new_context(browser, service_workers="block")
    page = await watch(context, problems)
    held = await hold_script(page, "library.js")
    signing_in = asyncio.create_task(sign_in_page(page, server.url))
    await held.requested()
    download = page.locator('.track .stage[data-stage="download"]')
    assert await download.get_attribute("class") == "stage state-waiting"
    await end_silently(job_id)  # nobody was listening
    held.release()
    await signing_in
    await page.wait_for_selector("#library[data-ready]")
    await download.locator("xpath=self::*[contains(@class, 'state-done')]").wait_for(timeout=10_000)
    assert await download.locator(".stage-pct").inner_text() == "100%"
    await context.close()


async def test_search_filters_and_keys_work_in_place(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    await add_tracks(server, "Strobe", "Ghosts n Stuff", "Sofi Needs a Ladder")
    context = await new_context(browser, viewport={"width": 1280, "height": 900})
    page = await watch(context, problems)
    await sign_in_page(page, server.url)
    await page.wait_for_selector("#library[data-ready]")
    assert await page.locator(".track").count() == 3

    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "search"
    await page.keyboard.type("ghosts")
    await page.wait_for_function("() => document.querySelectorAll('.track').length === 1")
    assert await page.locator(".track-title").inner_text() == "Ghosts n Stuff"
    assert page.url == f"{server.url}/?q=ghosts"  # the URL follows, without a navigation
    assert "1–1 of 1 track" in await page.inner_text("[data-summary]")

    await page.locator("#search").blur()
    await page.keyboard.press("i")
    assert await page.evaluate("document.activeElement.id") == "import-url"

    # A reload renders the same filtered list on the server.
    await page.reload()
    assert await page.locator(".track").count() == 1
    assert await page.input_value("#search") == "ghosts"

    # Delete with confirmation: the dialog, then the row is gone.
    await page.click('.track [data-action="delete"]')
    await page.click("[data-confirm-ok]")
    await page.wait_for_function("() => document.querySelectorAll('.track').length === 0")
    assert "Nothing matches" in await page.inner_text("#empty")
    await context.close()


async def test_on_a_phone_the_rows_become_cards(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    await add_tracks(server, "A Very Long Track Title That Has To Wrap On A Small Screen", "Short")
    context = await new_context(
        browser, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await watch(context, problems)
    await sign_in_page(page, server.url)
    await page.wait_for_selector("#library[data-ready]")
    for path in ("/", "/settings"):
        await page.goto(f"{server.url}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 375, f"{path} is {overflow}px wide at 375px"
    await page.goto(f"{server.url}/")
    row = await page.locator(".track").first.bounding_box()
    stages = await page.locator(".track .stages").first.bounding_box()
    title = await page.locator(".track .track-main").first.bounding_box()
    assert row is not None and stages is not None and title is not None
    assert stages["y"] > title["y"] + title["height"] - 1  # stacked, not side by side
    assert row["width"] <= 375
    await context.close()


async def test_the_app_installs_caches_its_shell_and_works_offline(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    context = await new_context(browser)
    page = await watch(context, problems)
    await sign_in_page(page, server.url)
    manifest = await page.evaluate(
        """async () => {
          const link = document.querySelector('link[rel="manifest"]');
          const response = await fetch(link.href);
          return { type: response.headers.get('content-type'), body: await response.json() };
        }"""
    )
    assert manifest["type"] == "application/manifest+json"
    body = manifest["body"]
    assert body["start_url"] == "/" and body["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in body["icons"]}

    state = await page.evaluate(
        """async () => {
          const registration = await navigator.serviceWorker.ready;
          const worker = registration.active;
          while (worker.state !== 'activated') {
            await new Promise((done) => worker.addEventListener('statechange', done));
          }
          const names = await caches.keys();
          const shell = await caches.open(names.find((n) => n.startsWith('soundforge-shell-')));
          const has = async (path) => Boolean(await shell.match(path));
          return {
            state: registration.active.state, scope: registration.scope, names,
            css: await has('/static/css/app.css'), js: await has('/static/js/library.js'),
            icon: await has('/static/icons/icon-512.png'), offline: await has('/offline'),
            api: (await shell.keys()).some((r) => new URL(r.url).pathname.startsWith('/api/')),
          };
        }"""
    )
    assert state["state"] == "activated" and state["scope"] == f"{server.url}/"
    assert state["css"] and state["js"] and state["icon"] and state["offline"]
    assert not state["api"]
    # The page comes under the worker's control (clients.claim), then goes offline.
    await page.reload()
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    await context.set_offline(True)
    await page.goto(f"{server.url}/settings")
    assert "The server cannot be reached" in await page.inner_text("main")
    await context.set_offline(False)
    await context.close()


async def test_a_failed_precache_does_not_break_installation(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    async with api_client(server) as client:
        assert (await client.get("/static/no-such-file.css")).status_code == 404
    context = await new_context(browser)
    page = await watch(context, problems)
    problems.allow("the server responded with a status of 404")  # the probe, on purpose
    # A page with no app.js (nothing registers a worker but this test).
    await page.goto(f"{server.url}/manifest.webmanifest")
    result = await page.evaluate(
        """async () => {
          const probe = '/static/no-such-file.css';
          await navigator.serviceWorker.register(`/sw.js?probe=${encodeURIComponent(probe)}`);
          const registration = await navigator.serviceWorker.ready;
          const worker = registration.active;
          while (worker.state !== 'activated') {
            await new Promise((done) => worker.addEventListener('statechange', done));
          }
          const names = await caches.keys();
          const shell = await caches.open(names.find((n) => n.startsWith('soundforge-shell-')));
          return {
            script: registration.active.scriptURL, state: registration.active.state,
            probe: Boolean(await shell.match(probe)),
            css: Boolean(await shell.match('/static/css/app.css')),
          };
        }"""
    )
    assert result["script"].endswith("probe=%2Fstatic%2Fno-such-file.css")
    assert result["state"] == "activated"  # installed despite the failed entry
    assert result["css"] and not result["probe"]
    await context.close()


async def test_settings_create_and_revoke_a_token(
    server: WebServer, browser: Any, problems: Problems
) -> None:
    context = await new_context(browser)
    page = await watch(context, problems)
    await sign_in_page(page, server.url)
    await page.goto(f"{server.url}/settings")
    await page.wait_for_selector("body[data-settings-ready]")
    await page.fill('#token-form input[name="name"]', "laptop")
    await page.click('#token-form button[type="submit"]')
    await page.locator("#token-secret").wait_for(state="visible")
    secret = await page.locator("#token-secret [data-secret]").inner_text()
    assert secret.startswith("sf_")
    row = page.locator("#token-list tr", has_text="laptop")
    await row.wait_for()
    await row.locator("[data-revoke]").click()
    await row.locator("[data-revoke]").click()  # the second click confirms
    await row.locator("text=revoked").wait_for()

    await page.select_option('select[name="stem_format"]', "flac")
    await page.click('#preferences button[type="submit"]')
    await page.locator("#preferences [data-saved]", has_text="Saved.").wait_for()
    await page.reload()
    assert await page.input_value('select[name="stem_format"]') == "flac"
    await context.close()
