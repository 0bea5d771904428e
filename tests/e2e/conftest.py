"""Browser tests: Debian's Chromium, driven by Playwright's async API, against a whole server.

Playwright's own browser downloads are never used (``playwright install`` cannot run here):
Chromium is launched from ``/usr/bin/chromium``, and every test is skipped, saying why, when
it is missing. The server runs in the test's event loop (the async API lets it serve while
the test awaits the browser).

Every page a test opens through :func:`watch` records the console's errors, uncaught page
errors and ``securitypolicyviolation`` events; the ``browser_page`` fixture fails the test if
any happened, so each test also checks that the pages satisfy the CSP.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from soundforge.accounts import create_session
from soundforge.actors import repo
from soundforge.config import Settings
from soundforge.jobs.pipeline import Download
from soundforge.music.tracks import NewTrack, create_track, set_status
from soundforge.queue import insert
from soundforge.runtime.application import Application
from soundforge.supervisors import Root, RootOptions
from soundforge.supervisors.root import NAMES
from soundforge.web import url
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, WebServer, server

__all__ = ["server"]  # the web tests' fixture: a server whose admin exists already

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
LAUNCH_ARGS = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]

# Catches what the CSP blocks (the console says it too, but this names the directive).
_CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class FreshServer(msgspec.Struct):
    """A server with no account at all yet (the first to register becomes the admin)."""

    url: str
    data_dir: Path


@pytest.fixture
async def fresh_server(database_url: str) -> AsyncIterator[FreshServer]:
    data_dir = Path(tempfile.mkdtemp(prefix="sf-e2e-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        node_name="e2e",
        port=0,
        allow_private_urls=True,
    )
    app = Application(
        Root.child_spec(RootOptions(settings, web=True)), handle_signals=False, stop_timeout=20.0
    )
    running = asyncio.ensure_future(app.run())
    try:
        async with asyncio.timeout(60):
            while not app.started.is_set():
                if running.done():
                    raise AssertionError(f"the server did not start: {app.failure}")
                await asyncio.sleep(0.01)
        app.node.attach()
        yield FreshServer(await url(), data_dir)
    finally:
        app.request_stop("test done")
        await asyncio.wait_for(running, 60)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


class Problems:
    """What went wrong in the pages a test watched."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.pages: list[Any] = []
        self.allowed: list[str] = []

    def allow(self, words: str) -> None:
        """Expect console errors containing ``words`` (a test that provokes one on purpose)."""
        self.allowed.append(words)

    async def all(self) -> list[str]:
        found = [m for m in self.console if not any(w in m for w in self.allowed)]
        for page in self.pages:
            if page.is_closed():
                continue
            with contextlib.suppress(Exception):  # a page mid-navigation has no window
                found += await page.evaluate("window.__cspViolations ?? []")
        return found


async def watch(context: Any, problems: Problems) -> Any:
    """A new page of ``context`` whose errors and CSP violations land in ``problems``."""
    page = await context.new_page()
    page.set_default_timeout(15_000)
    page.on(
        "console",
        lambda m: (
            problems.console.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.console.append(f"uncaught: {e}"))
    problems.pages.append(page)
    return page


@pytest.fixture
async def problems() -> AsyncIterator[Problems]:
    found = Problems()
    yield found
    assert await found.all() == [], "the pages logged errors or broke the CSP"


async def new_context(browser: Any, **options: Any) -> Any:
    context = await browser.new_context(**options)
    await context.add_init_script(_CSP_PROBE)
    return context


async def admin_context_of(browser: Any, server: WebServer, **options: Any) -> Any:
    """A new context signed in as the server's admin (the login form has its own tests)."""
    context = await new_context(browser, viewport={"width": 1280, "height": 900}, **options)
    async with repo.connection(NAMES.repo) as conn:
        token = await create_session(conn, server.admin_id)
    await context.add_cookies([{"name": "sf_session", "value": token, "url": server.url}])
    return context


@pytest.fixture
async def admin_context(browser: Any, server: WebServer) -> AsyncIterator[Any]:
    """A browser signed in as the server's admin."""
    context = await admin_context_of(browser, server)
    try:
        yield context
    finally:
        await context.close()


class HeldScript:
    """A page's script held back: the server-rendered page is on screen, and the script that
    takes it over (and subscribes to its topics) has not run. For races between what the
    server rendered and what happened before the page followed it. The page's context must
    block service workers (``service_workers="block"``): routes do not see what they answer.

        held = await hold_script(page, "library.js")
        navigation = asyncio.create_task(page.goto(url))   # its load event waits for the script
        await held.requested()
        ...                                               # change things meanwhile
        held.release()
        await navigation
    """

    def __init__(self) -> None:
        self._asked = asyncio.Event()
        self._released = asyncio.Event()

    async def requested(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._asked.wait(), timeout)

    def release(self) -> None:
        self._released.set()

    async def route(self, route: Any) -> None:
        self._asked.set()
        await self._released.wait()
        await route.continue_()


async def hold_script(page: Any, name: str) -> HeldScript:
    """Hold the page's requests for ``/static/js/<name>`` until released."""
    held = HeldScript()
    await page.route(f"**/static/js/{name}*", held.route)
    return held


async def sign_in_page(
    page: Any, base: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> None:
    await page.goto(f"{base}/login")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', password)
    async with page.expect_navigation():
        await page.click('button[type="submit"]')
    assert page.url == f"{base}/", page.url


async def add_tracks(server: WebServer, *titles: str, status: str = "ready") -> list[str]:
    """Tracks straight into the admin's library (no pipeline: for list and layout tests)."""
    ids = []
    async with repo.transaction(NAMES.repo) as conn:
        for title in titles:
            track_id = await create_track(
                conn,
                NewTrack(
                    user_id=server.admin_id,
                    source_kind="upload",
                    title=title,
                    artists=["Test Artist"],
                    duration_ms=215_000,
                ),
            )
            await set_status(conn, track_id, status)
            ids.append(track_id)
    return ids


async def track_with_a_queued_download(server: WebServer, title: str) -> tuple[str, int]:
    """A track of the admin's whose download is queued (for an hour: no worker takes it);
    returns the track's id and the job's."""
    (track_id,) = await add_tracks(server, title, status="downloading")
    async with repo.connection(NAMES.repo) as conn:
        job = await insert(conn, Download, {"track_id": track_id, "request": {}}, schedule_in=3600)
    return track_id, job.id


async def end_silently(job_id: int) -> None:
    """Complete a job in the database without the event its worker would publish."""
    async with repo.connection(NAMES.repo) as conn:
        await conn.execute(
            "UPDATE jobs SET state = 'completed', attempt = 1, attempted_at = now(),"
            " completed_at = now() WHERE id = $1",
            job_id,
        )
