"""The actors console in headless Chromium, against a whole server: the live tree, a port
program killed from outside (the page shows the new OS process and the supervisor's crash
report without a reload), a kill from the page itself through its confirmation, and a
child stopped and started again from the page.

Every wait is for a condition in the page, bounded by a few seconds: the observer sends a
snapshot every second. The ``problems`` fixture fails a test on any console error or CSP
violation.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from soundforge.runtime import dynamic_supervisor
from soundforge.runtime.child_spec import Restart
from soundforge.runtime.introspect import describe
from soundforge.runtime.port import Port, PortOptions
from soundforge.runtime.process import Pid, self_pid
from soundforge.runtime.results import Ok
from soundforge.supervisors.root import NAMES
from tests.e2e.conftest import Problems, watch
from tests.web.conftest import WebServer

pytestmark = pytest.mark.timeout(180)

#: Long enough for a snapshot or two on a loaded machine, short enough to fail fast.
WAIT_MS = 8_000
SLEEPER = "import time\nwhile True: time.sleep(1)\n"


@pytest.fixture
async def sleeper(server: WebServer) -> AsyncIterator[None]:
    """A port program under the PortSupervisor, restarted whenever it dies."""
    argv = [sys.executable, "-c", SLEEPER]
    options = PortOptions(argv, name="sleeper", framing=False, owner=self_pid())
    spec = Port.child_spec(options).with_(restart=Restart.PERMANENT)
    assert isinstance(await dynamic_supervisor.start_child(NAMES.ports, spec), Ok)
    try:
        yield
    finally:
        for child in await dynamic_supervisor.which_children(NAMES.ports):
            if not isinstance(child.pid, Pid):
                continue
            info = describe(child.pid)
            summary = info.summary if info is not None else None
            if isinstance(summary, dict) and summary.get("name") == "sleeper":
                await dynamic_supervisor.terminate_child(NAMES.ports, child.pid)


def row(page: Any, key_end: str) -> Any:
    """The tree's row whose key (its path of child ids) ends with ``key_end``."""
    return page.locator(f'tr.actor-row[data-key$="{key_end}"]')


async def wait_for_row(page: Any, key_end: str, condition: str) -> None:
    """Until ``condition`` (JavaScript, about ``row``, the row's element) holds."""
    await page.wait_for_function(
        f"""([end]) => {{
              const row = [...document.querySelectorAll('tr.actor-row')]
                .find((tr) => tr.dataset.key.endsWith(end));
              return Boolean(row) && ({condition});
            }}""",
        arg=[key_end],
        timeout=WAIT_MS,
    )


async def test_the_tree_shows_a_killed_port_restart_and_its_crash_report(
    server: WebServer, admin_context: Any, problems: Problems, sleeper: None
) -> None:
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/actors")

    # The tree: the root supervisor with its strategy and intensity, the queues' producers
    # with their counts and pause buttons, the sleeper port with its OS process.
    await row(page, "/Root").wait_for(timeout=WAIT_MS)
    assert "one for one" in await row(page, "/Root").locator(".actor-details").text_content()
    assert "intensity 0/3" in await row(page, "/Root").locator(".actor-details").text_content()
    producers = page.locator('tr.actor-row[data-key$="/producer"]')
    assert await producers.count() == 3
    for index in range(3):
        details = await producers.nth(index).locator(".actor-details").text_content()
        assert "available 0" in details and "retryable 0" in details, details
        assert await producers.nth(index).locator('[data-queue-action="pause"]').is_visible()
    port = row(page, "/PortSupervisor/port:sleeper")
    await wait_for_row(page, "/PortSupervisor/port:sleeper", "row.dataset.osPid !== ''")
    os_pid = int(await port.get_attribute("data-os-pid"))
    old_pid = await port.get_attribute("data-pid")
    assert "RSS" in await port.locator(".actor-details").text_content()

    # Kill the program behind the page's back: the port dies, its supervisor starts a new one.
    os.kill(os_pid, signal.SIGKILL)
    await wait_for_row(
        page,
        "/PortSupervisor/port:sleeper",
        f"row.dataset.osPid !== '' && row.dataset.osPid !== '{os_pid}'"
        f" && row.dataset.pid !== '{old_pid}'",
    )
    assert await port.get_attribute("data-changed") == "restarted"
    assert await port.locator(".change-mark").is_visible()
    supervisor = row(page, "/PortSupervisor")
    await wait_for_row(page, "/PortSupervisor", "row.textContent.includes('1 crash report')")

    # Its crash report, from the inspect panel.
    await supervisor.locator(".actor-label").click()
    await page.locator("#inspect-body").wait_for(state="visible")
    assert await page.text_content("#inspect-label") == "PortSupervisor"
    reason = page.locator("#inspect-crashes .crash-reason")
    await reason.first.wait_for(timeout=WAIT_MS)
    assert "SIGKILL" in await reason.first.text_content()
    assert await page.locator(f'#inspect-crashes .crash[data-pid="{old_pid}"]').count() == 1
    assert "SIGKILL" in await page.locator("#inspect-crashes pre.traceback").first.text_content()
    # The selection is in the address, and survives the next snapshots.
    assert page.url.endswith("PortSupervisor")
    await wait_for_row(page, "/PortSupervisor", "row.classList.contains('selected')")


async def test_killing_a_child_from_the_page_asks_first_and_its_supervisor_restarts_it(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/actors")
    notifier = row(page, "/Queues/notifier")
    await notifier.wait_for(timeout=WAIT_MS)
    old_pid = await notifier.get_attribute("data-pid")
    assert await notifier.get_attribute("data-restarts") == "0"

    # Collapsing a branch hides its rows, and the next snapshots leave it collapsed.
    queues = row(page, "/Root/Queues")
    await queues.locator(".tree-toggle").click()
    assert await queues.locator(".tree-toggle").get_attribute("aria-expanded") == "false"
    await notifier.wait_for(state="hidden")
    first = await page.text_content("#actors-note")
    await page.wait_for_function(
        "(before) => document.getElementById('actors-note').textContent !== before",
        arg=first,
        timeout=WAIT_MS,
    )
    assert await notifier.is_hidden()
    await queues.locator(".tree-toggle").click()
    await notifier.wait_for(state="visible")

    await notifier.locator(".actor-label").click()
    await page.wait_for_function(
        "() => document.getElementById('inspect-label').textContent === 'notifier'"
    )
    kill = page.locator('#inspect-actions [data-act="kill"]')
    # Cancelling the confirmation changes nothing.
    await kill.click()
    await page.locator("#confirm-dialog").wait_for(state="visible")
    assert "notifier" in await page.text_content("#confirm-text")
    await page.click('#confirm-dialog button[value="cancel"]')
    assert await notifier.get_attribute("data-pid") == old_pid

    await kill.click()
    await page.click("#confirm-ok")
    await page.wait_for_function(
        "() => document.getElementById('actors-status').textContent.startsWith('notifier (<')",
        timeout=WAIT_MS,
    )
    assert f"notifier ({old_pid}) was killed" in await page.text_content("#actors-status")
    await wait_for_row(
        page,
        "/Queues/notifier",
        f"row.dataset.restarts === '1' && row.dataset.pid !== '{old_pid}'"
        " && row.dataset.pid !== ''",
    )
    assert await notifier.get_attribute("data-changed") == "restarted"
    # The panel follows the new process, and its crash report says it was killed.
    assert await page.text_content("#inspect-pid") == await notifier.get_attribute("data-pid")
    crash = page.locator(f'#inspect-crashes .crash[data-pid="{old_pid}"] .crash-reason')
    await crash.wait_for(timeout=WAIT_MS)
    assert await crash.text_content() == "killed"

    # The server refuses what would end itself, and the page says why (the browser logs the
    # 409 response as a console error).
    problems.allow("status of 409")
    await row(page, "/Root").locator(".actor-label").click()
    await page.wait_for_function(
        "() => document.getElementById('inspect-label').textContent === 'Root'"
    )
    await kill.click()
    await page.click("#confirm-ok")
    await page.wait_for_function(
        "() => document.getElementById('actors-status').dataset.kind === 'error'",
        timeout=WAIT_MS,
    )
    assert "server" in await page.text_content("#actors-status")


async def test_a_child_stopped_from_the_page_stays_stopped_until_restarted(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/actors")
    pruner = row(page, "/Queues/pruner")
    await pruner.locator(".actor-label").click()
    await page.wait_for_function(
        "() => document.getElementById('inspect-label').textContent === 'pruner'"
    )
    await page.click('#inspect-actions [data-act="stop"]')
    assert "stays stopped" in await page.text_content("#confirm-text")
    await page.click("#confirm-ok")
    await wait_for_row(page, "/Queues/pruner", "row.dataset.status === 'stopped'")
    assert await pruner.get_attribute("data-pid") == ""
    assert "pruner (" in await page.text_content("#actors-status")
    assert "was stopped" in await page.text_content("#actors-status")
    # Only restart applies to a stopped child; the panel says so.
    assert await page.locator('#inspect-actions [data-act="kill"]').is_disabled()
    assert "stopped" in await page.text_content("#inspect-actions-note")

    await page.click('#inspect-actions [data-act="restart"]')
    await page.click("#confirm-ok")
    await wait_for_row(page, "/Queues/pruner", "row.dataset.pid !== ''")
    assert await pruner.get_attribute("data-status") != "stopped"
    assert await pruner.get_attribute("data-changed") == "started"
    assert "pruner was started again" in await page.text_content("#actors-status")


async def test_a_queue_is_paused_and_resumed_from_its_producer(
    server: WebServer, admin_context: Any, problems: Problems
) -> None:
    page = await watch(admin_context, problems)
    await page.goto(f"{server.url}/admin/actors")
    producer = page.locator('tr.actor-row[data-queue="download"]')
    await producer.wait_for(timeout=WAIT_MS)
    await producer.locator(".actor-label").click()
    await page.locator("#inspect-queue").wait_for(state="visible")
    await page.wait_for_function(
        "() => document.getElementById('inspect-jobs').textContent.includes('No job')",
        timeout=WAIT_MS,
    )

    await producer.locator('[data-queue-action="pause"]').click()
    assert "download" in await page.text_content("#confirm-text")
    await page.click("#confirm-ok")
    await page.wait_for_function(
        """() => document.querySelector('tr.actor-row[data-queue="download"]')
                   .textContent.includes('paused')""",
        timeout=WAIT_MS,
    )
    assert await producer.locator('[data-queue-action="resume"]').is_visible()
    assert await producer.locator('[data-queue-action="pause"]').is_hidden()
    assert "Paused" in await page.text_content("#inspect-queue-state")

    await page.click('#inspect-queue [data-queue-action="resume"]')
    await page.click("#confirm-ok")
    await page.wait_for_function(
        """() => !document.querySelector('tr.actor-row[data-queue="download"]')
                   .textContent.includes('paused')""",
        timeout=WAIT_MS,
    )
    assert "runs again" in await page.text_content("#actors-status")
