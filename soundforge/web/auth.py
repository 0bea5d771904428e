"""Who is asking: session cookies for browsers, Bearer tokens for scripts, CSRF, roles.

Before every request :func:`identify` resolves the caller once:

* ``Authorization: Bearer sf_...`` → the token's user (``accounts.tokens``);
* else the ``sf_session`` cookie → the session's user (``accounts.sessions``).

A suspended user resolves to nobody either way. Resolutions are cached for seconds per
node (``credentials``); every change to what a credential may do forgets them at once.
Views then use :func:`require_user` / :func:`require_admin` (or the decorators of the same
names).

**CSRF.** Requests authenticated by a cookie can be forged by another site, so every unsafe
request (POST, PUT, PATCH, DELETE) that carries the session cookie, and every form post to the
login and registration pages, must present the CSRF token: the ``X-CSRF-Token`` header (the
pages' scripts send it) or a ``csrf_token`` form field equal to the ``sf_csrf`` cookie (the
double-submit pattern: another site can neither read nor set that cookie). A request whose
``Origin`` is another site is refused outright. Bearer-token requests carry no ambient
credential and need neither.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from quart import g, redirect, request
from werkzeug.sansio.response import Response

from soundforge.accounts import User, session_user, token_user
from soundforge.web import db
from soundforge.web.context import web
from soundforge.web.http import Forbidden, TooManyRequests, Unauthorized

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "admin_required",
    "check_csrf",
    "client_ip",
    "csrf_token",
    "current_user",
    "identify",
    "login_required",
    "rate_limit",
    "require_admin",
    "require_user",
    "set_session_cookie",
]

SESSION_COOKIE: Final = "sf_session"
CSRF_COOKIE: Final = "sf_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Form posts that happen before there is a session, protected by the CSRF cookie anyway.
_ANONYMOUS_FORMS: Final = ("/login", "/register")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


async def identify() -> None:
    """Resolve ``g.user`` and ``g.auth`` ("token", "session" or None) for this request."""
    g.user = None
    g.auth = None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    cache = web().credentials
    if scheme.lower() == "bearer" and secret.strip():
        secret = secret.strip()
        g.user = cache.get(secret)
        if g.user is None:
            async with db.connection() as conn:
                g.user = await token_user(conn, secret)
            if g.user is not None:
                cache.put(secret, g.user)
        if g.user is None:
            raise Unauthorized(
                "the API token is unknown, revoked or expired, or its user is suspended"
            )
        g.auth = "token"
        return
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        g.user = cache.get(cookie)
        if g.user is None:
            async with db.connection() as conn:
                g.user = await session_user(conn, cookie)
            if g.user is not None:
                cache.put(cookie, g.user)
        g.auth = "session" if g.user is not None else None


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthorized("sign in first, or send an API token as 'Authorization: Bearer ...'")
    return user


def require_admin() -> User:
    user = require_user()
    if user.role != "admin":
        raise Forbidden("only administrators can do this")
    return user


def login_required(view: F) -> F:
    """For pages: send an anonymous visitor to the login page, then back."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(f"/login?next={_safe_next(request.full_path)}")
        return await view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(f"/login?next={_safe_next(request.full_path)}")
        require_admin()
        return await view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _safe_next(path: str) -> str:
    from urllib.parse import quote

    path = path.rstrip("?")
    return quote(path if path.startswith("/") and not path.startswith("//") else "/", safe="")


def safe_redirect_target(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and absolute URLs become ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# -- CSRF ------------------------------------------------------------------------------------


def csrf_token() -> str:
    """This browser's CSRF token (set as a cookie after the response if it is new)."""
    token = request.cookies.get(CSRF_COOKIE) or g.get("new_csrf")
    if not token:
        token = g.new_csrf = secrets.token_urlsafe(32)
    return str(token)


async def check_csrf() -> None:
    if request.method not in _UNSAFE:
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise Forbidden("this request came from another site and was refused")
    if g.get("auth") == "token":
        return
    cookie_auth = request.cookies.get(SESSION_COOKIE) is not None
    if not cookie_auth and request.path not in _ANONYMOUS_FORMS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        presented = (await request.form).get("csrf_token")
    if not expected or not presented or not hmac.compare_digest(expected, presented):
        raise Forbidden(
            "the form has expired or did not come from this site; reload the page and try again"
        )


def set_csrf_cookie(response: Response) -> None:
    token = g.get("new_csrf")
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, samesite="Strict", secure=web().settings.secure_cookies, path="/"
        )


def set_session_cookie(response: Response, token: str | None) -> None:
    """Set (or with None, clear) the session cookie: HttpOnly, SameSite=Lax."""
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=30 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=web().settings.secure_cookies,
        path="/",
    )


# -- rate limits -------------------------------------------------------------------------------


def client_ip() -> str:
    return request.remote_addr or "unknown"


def rate_limit(group: str) -> None:
    """Count this request against ``group`` for its user (or address); 429 when over."""
    user = current_user()
    key = user.id if user is not None and group != "auth" else client_ip()
    wait = web().limiter.hit(group, key)
    if wait is not None:
        raise TooManyRequests(
            f"too many requests; try again in {max(1, round(wait))} seconds", retry_after=wait
        )
