"""Server-rendered pages: sign-in and registration, the library, settings and the PWA files.

Phoenix's controllers and LiveViews in one: each page is rendered complete on the server (so
search, filters, sorting and paging work as plain links and forms, without JavaScript), and
then a small ES module of ours takes it over (``web/static/js``) and keeps it live over the
one WebSocket (``/ws``), talking to the JSON API for every change. Unlike LiveView, the
server keeps no per-tab state: the page holds its data, the socket only carries events.

The forms here are the only writes outside ``/api/v1``: ``/login``, ``/register`` and
``/logout`` (CSRF-checked before the view runs, see ``soundforge.web.auth``). The track
page and the admin pages live in their own modules and extend ``base.html`` like these.

The progressive web app is served from the root, where its scope must be: the manifest
(``/manifest.webmanifest``), the service worker (``/sw.js``, stamped with a hash of the
front end so that any change installs a new one) and the page it shows offline.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from quart import Blueprint, Response, redirect, render_template, request

from soundforge import __version__
from soundforge.accounts import (
    AccountSuspended,
    Action,
    InvalidAccount,
    LoginFailed,
    UserSettings,
    authenticate,
    create_session,
    create_user,
    end_session,
    get_preferences,
    list_tokens,
    record,
)
from soundforge.actors import repo
from soundforge.music.library import (
    SORTS,
    STATUSES,
    InvalidFilter,
    TrackFilter,
    TrackPage,
    list_tracks,
    parse_filter,
)
from soundforge.web import auth
from soundforge.web._templating import (
    CAMELOT_CODES,
    preference_fields,
    register_filters,
    sentence,
)
from soundforge.web.app import WEB_ROOT
from soundforge.web.context import web

__all__ = ["blueprint"]

blueprint = Blueprint("pages", __name__)
register_filters(blueprint)

_STATIC: Final = WEB_ROOT / "static"
#: Replaced in sw.js by a hash of the front end, which names the worker's cache.
_VERSION_MARK: Final = "__SOUNDFORGE_SHELL_VERSION__"
_NO_STORE: Final = "no-cache, no-store, must-revalidate"
_encode = msgspec.json.Encoder().encode
#: The query's narrowing parameters (the rest say how to order and page).
_FILTERS: Final = ("q", "status", "bpm_min", "bpm_max", "key", "camelot", "compatible_with")


# -- signing in and out -------------------------------------------------------------------


@blueprint.get("/login")
async def login_form() -> Any:
    target = auth.safe_redirect_target(request.args.get("next"))
    if auth.current_user() is not None:
        return redirect(target, 303)
    return await _login_page(target)


@blueprint.post("/login")
async def login() -> Any:
    form = await request.form
    email = form.get("email", "").strip()
    password = form.get("password", "")
    target = auth.safe_redirect_target(form.get("next"))
    if not email or not password:
        return await _login_page(target, email, "Enter your email address and password.", 422)
    try:
        # authenticate records user.login / user.login_failed itself.
        async with repo.connection(web().repo) as conn:
            user = await authenticate(conn, email, password, ip=auth.client_ip())
            token = await create_session(
                conn, user.id, user_agent=request.headers.get("User-Agent"), ip=auth.client_ip()
            )
    except (LoginFailed, AccountSuspended) as error:
        return await _login_page(target, email, sentence(error.message), error.status)
    response = redirect(target, 303)
    auth.set_session_cookie(response, token)
    return response


async def _login_page(
    target: str, email: str = "", error: str | None = None, status: int = 200
) -> Any:
    page = await render_template("login.html", next=target, email=email, error=error)
    return page, status


async def _registration_closed() -> bool:
    """Closed registration still lets the very first account in (the administrator)."""
    if web().settings.open_registration:
        return False
    async with repo.connection(web().repo) as conn:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users)"))


_CLOSED: Final = (
    "Registration is closed on this server; ask an administrator to create your account."
)


@blueprint.get("/register")
async def register_form() -> Any:
    if auth.current_user() is not None:
        return redirect("/", 303)
    if await _registration_closed():
        return await render_template("error.html", status=403, message=_CLOSED), 403
    return await render_template("register.html", email="", display_name="", error=None)


@blueprint.post("/register")
async def register() -> Any:
    if await _registration_closed():
        return await render_template("error.html", status=403, message=_CLOSED), 403
    form = await request.form
    email = form.get("email", "").strip()
    display_name = form.get("display_name", "").strip() or None
    password = form.get("password", "")
    error = None
    if password != form.get("password_again", ""):
        error = "The two passwords differ; type the same password twice."
    else:
        try:
            async with repo.transaction(web().repo) as conn:
                user = await create_user(conn, email, password, display_name=display_name)
                await record(
                    conn,
                    Action.USER_REGISTERED,
                    actor_id=user.id,
                    target_type="user",
                    target_id=user.id,
                    details={"role": user.role},
                    ip=auth.client_ip(),
                )
                token = await create_session(
                    conn, user.id, user_agent=request.headers.get("User-Agent"), ip=auth.client_ip()
                )
        except InvalidAccount as error_:
            error = sentence(error_.message)
    if error is not None:
        page = await render_template(
            "register.html", email=email, display_name=display_name or "", error=error
        )
        return page, 422
    response = redirect("/", 303)
    auth.set_session_cookie(response, token)
    return response


@blueprint.post("/logout")
async def logout() -> Any:
    token = request.cookies.get(auth.SESSION_COOKIE)
    user = auth.current_user()
    if token:
        web().credentials.forget_secret(token)
        async with repo.connection(web().repo) as conn:
            await end_session(conn, token)
            if user is not None:
                await record(
                    conn,
                    Action.USER_LOGOUT,
                    actor_id=user.id,
                    target_type="user",
                    target_id=user.id,
                    ip=auth.client_ip(),
                )
    response = redirect("/login", 303)
    auth.set_session_cookie(response, None)
    return response


# -- the library (dashboard) ----------------------------------------------------------------


@blueprint.get("/")
@auth.login_required
async def library() -> Any:
    user = auth.require_user()
    params = {key: request.args.get(key, "") for key in TrackFilter.__struct_fields__}
    error = None
    async with repo.connection(web().repo) as conn:
        try:
            track_filter = parse_filter(params)
            page = await list_tracks(conn, user.id, track_filter)
        except InvalidFilter as invalid:
            error = sentence(invalid.message)
            track_filter = TrackFilter()
            page = TrackPage([], 0, track_filter.limit, 0)
    html = await render_template(
        "library.html",
        user=user,
        page=page,
        page_json=_encode(page).decode(),
        params=params,
        filtered=any(params[k] for k in _FILTERS),
        active_filters=sum(1 for k in _FILTERS if k != "q" and params[k]),
        error=error,
        statuses=STATUSES,
        sorts=SORTS,
        camelot_codes=CAMELOT_CODES,
        prev_url=_page_url(params, page.offset - page.limit) if page.offset > 0 else None,
        next_url=(
            _page_url(params, page.offset + page.limit)
            if page.offset + page.limit < page.total
            else None
        ),
    )
    return html, 422 if error else 200


def _page_url(params: Mapping[str, str], offset: int) -> str:
    query = {k: v for k, v in params.items() if v and k != "offset"}
    if offset > 0:
        query["offset"] = str(offset)
    return "/?" + urlencode(query) if query else "/"


# -- settings ---------------------------------------------------------------------------------


@blueprint.get("/settings")
@auth.login_required
async def settings() -> Any:
    user = auth.require_user()
    async with repo.connection(web().repo) as conn:
        prefs = await get_preferences(conn, user.id)
        tokens = await list_tokens(conn, user.id)
    return await render_template(
        "settings.html",
        user=user,
        fields=preference_fields(prefs),
        defaults=_encode(UserSettings()).decode(),
        tokens=tokens,
    )


# -- the progressive web app -----------------------------------------------------------------


@blueprint.get("/manifest.webmanifest")
async def manifest() -> Response:
    body = await asyncio.to_thread((_STATIC / "manifest.webmanifest").read_bytes)
    return Response(
        body, content_type="application/manifest+json", headers={"Cache-Control": "no-cache"}
    )


@blueprint.get("/sw.js")
async def service_worker() -> Response:
    """The worker, from the root so that its scope is the whole site; never cached by HTTP
    (browsers compare its bytes to decide on an update, and its version is in them)."""
    source, version = await asyncio.to_thread(_service_worker)
    return Response(
        source.replace(_VERSION_MARK, version),
        content_type="text/javascript; charset=utf-8",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": _NO_STORE},
    )


def _service_worker() -> tuple[str, str]:
    digest = hashlib.sha256(__version__.encode())
    for folder in ("static", "templates"):
        for path in sorted((WEB_ROOT / folder).rglob("*")):
            if path.is_file() and "test" not in path.relative_to(WEB_ROOT).parts:
                digest.update(path.relative_to(WEB_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return (_STATIC / "sw.js").read_text(), f"{__version__}-{digest.hexdigest()[:12]}"


@blueprint.get("/offline")
async def offline() -> Any:
    """What the service worker shows when a page cannot be reached; it is precached, so it
    carries nothing of the user who happened to be signed in at the time."""
    html = await render_template("offline.html", bare=True)
    return Response(
        html, content_type="text/html; charset=utf-8", headers={"Cache-Control": _NO_STORE}
    )
