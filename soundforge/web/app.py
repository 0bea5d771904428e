"""The Quart application: pages, the JSON API, the WebSocket, health and metrics.

:func:`create_app` builds the app around a :class:`~soundforge.web.context.WebContext`; the
Endpoint actor serves it inside the node's event loop. Around every request it:

1. resolves the caller (``auth.identify``) and checks CSRF for cookie-authenticated writes;
2. counts the request against its route group's rate limit (429 with Retry-After);
3. adds the security headers (a CSP the pages satisfy: no inline script or style, nothing
   from another origin but artwork images) and records the request in the metrics.

The front end lives in the repository's top-level ``web/`` (templates and static files),
as Phoenix keeps ``assets/`` beside ``lib/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from quart import Quart, Response, g, request

from soundforge import __version__
from soundforge.runtime.process import current_node
from soundforge.web import auth, db, errors
from soundforge.web.context import EXTENSION, WebContext
from soundforge.web.metrics import REQUEST_STOP

__all__ = ["SECURITY_HEADERS", "WEB_ROOT", "create_app", "route_group"]

#: The front end: ``templates/`` and ``static/``.
WEB_ROOT: Final = Path(__file__).resolve().parents[2] / "web"

CSP: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: https:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(context: WebContext) -> Quart:
    from soundforge.web import (
        api,
        health,
        live,
        pages,
        pages_admin,
        pages_agents,
        pages_daw,
        pages_dj,
        pages_studio_midi,
        pages_track,
    )

    app = Quart(
        "soundforge",
        template_folder=str(WEB_ROOT / "templates"),
        static_folder=str(WEB_ROOT / "static"),
        static_url_path="/static",
    )
    app.extensions[EXTENSION] = context
    app.config.update(
        MAX_CONTENT_LENGTH=context.settings.max_upload_mb << 20,
        # Uploads of long DJ sets and downloads of stem archives take more than a minute.
        BODY_TIMEOUT=3600,
        RESPONSE_TIMEOUT=3600,
        SEND_FILE_MAX_AGE_DEFAULT=0,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.globals.update(
        csrf_token=auth.csrf_token, current_user=auth.current_user, version=__version__
    )
    errors.install(app)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(db.release)
    for module in (
        pages,
        pages_track,
        pages_daw,
        pages_dj,
        pages_studio_midi,
        pages_admin,
        pages_agents,
        api,
        live,
        health,
    ):
        app.register_blueprint(module.blueprint)
    return app


def route_group(method: str, path: str) -> str | None:
    """The rate-limit group of a request, or None for unlimited ones (static, health)."""
    if path.startswith(("/static/", "/health", "/sw.js", "/manifest")):
        return None
    if method == "POST" and path in ("/login", "/register"):
        return "auth"
    if method == "POST" and path in ("/api/v1/imports", "/api/v1/uploads"):
        return "import"
    if method in ("GET", "HEAD"):
        if "/audio" in path or "/export" in path or path.endswith(".zip"):
            return "download"
        return "read"
    return "write"


async def _before() -> None:
    g.started = time.perf_counter()
    g.group = route_group(request.method, request.path)
    if g.group is None:
        return
    await auth.identify()
    await auth.check_csrf()
    auth.rate_limit(g.group)


async def _after(response: Response) -> Response:
    # extend, not setdefault per header: no view sets these, and each setdefault scans them.
    response.headers.extend(SECURITY_HEADERS)
    auth.set_csrf_cookie(response)
    started = g.get("started")
    if started is not None:
        seconds = time.perf_counter() - started
        group = g.get("group") or "static"
        status = response.status_code
        app_context().metrics.observe(group, status, seconds)
        tele = current_node().telemetry  # every request is a process of the node
        if tele.wants(REQUEST_STOP):
            rule = request.url_rule
            meta = {
                "group": group,
                "method": request.method,
                "status": status,
                "route": rule.rule if rule is not None else None,
                "path": request.path,
            }
            tele.execute(REQUEST_STOP, {"duration": seconds}, meta)
    return response


def app_context() -> WebContext:
    from soundforge.web.context import web

    return web()
