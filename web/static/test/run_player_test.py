"""Run the stem player's browser tests (test/player.html) in headless Chromium.

Serves ``web/static`` on 127.0.0.1 (a secure context, which AudioWorklet needs), opens the
test page with Playwright, waits for ``document.title == "done"`` and prints
``window.__results`` as JSON. Exits 1 when a check failed or the page did not finish, 2 when
Chromium or Playwright is missing.

    .venv/bin/python web/static/test/run_player_test.py [--chromium PATH] [--timeout 120]

Written to be wrapped by a pytest later: ``run(chromium, timeout)`` returns the report dict.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATIC_ROOT = Path(__file__).resolve().parents[1]
TEST_PAGE = "test/player.html"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with JavaScript served as text/javascript, without access logging."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free localhost port while the block runs; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run(chromium: str = DEFAULT_CHROMIUM, timeout: float = 120.0) -> dict[str, Any]:
    """Run the page and return ``{"ok", "results", "console"}``."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with serve(STATIC_ROOT) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.goto(base + TEST_PAGE)
            try:
                page.wait_for_function("document.title === 'done'", timeout=timeout * 1000)
                finished = True
            except Exception:  # Playwright's TimeoutError: report what ran so far instead
                finished = False
            results = page.evaluate("window.__results ?? []")
        finally:
            browser.close()
    if not finished:
        detail = f"did not finish within {timeout:.0f} s"
        results.append({"name": "test page", "ok": False, "detail": detail})
    ok = bool(results) and all(result["ok"] for result in results)
    return {"ok": ok, "results": results, "console": console}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chromium", default=DEFAULT_CHROMIUM, help="Chromium executable (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if shutil.which(args.chromium) is None:
        print(
            f"Chromium was not found at {args.chromium}: install it (apt install chromium)"
            " or pass --chromium.",
            file=sys.stderr,
        )
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print(
            "Python Playwright is not installed here: pip install playwright"
            " (and use the system Chromium; do not run playwright install).",
            file=sys.stderr,
        )
        return 2
    report = run(args.chromium, args.timeout)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
