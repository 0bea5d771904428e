"""The HTTP client of the commands that talk to a running server (``soundforge actors``,
``soundforge queues``): where the server is, whose token to send, one request at a time.

It is the JSON API (``docs/api.md``) as ``curl`` sees it, over the standard library's
``urllib`` (httpx is only a test dependency). Every failure becomes one
:class:`SoundForgeError` sentence with a sysexits-style exit code, never a traceback:

* nothing answers, a timeout, or not a SoundForge API: 69 (EX_UNAVAILABLE),
  :class:`ServerUnavailable`;
* no token, or the server's 401/403: 77 (EX_NOPERM), :class:`AccessDenied`;
* 404, an unknown process or queue: 66 (EX_NOINPUT), :class:`NotFound`;
* 409 or 429, an ambiguous name, a refused action, too many requests: 75 (EX_TEMPFAIL),
  :class:`Conflict`;
* an unreadable ``client.toml`` or a malformed URL: 78 (EX_CONFIG), :class:`ClientConfigError`;
* any other error answer: 1, :class:`ServerError`.

Each setting is looked up on its own, first found wins (:func:`connection`):

1. ``--url`` / ``--token``;
2. ``SOUNDFORGE_URL`` / ``SOUNDFORGE_TOKEN``;
3. ``url`` / ``token`` in ``$XDG_CONFIG_HOME/soundforge/client.toml``
   (``~/.config/soundforge/client.toml``);
4. for the URL only: the server settings of this machine (``SOUNDFORGE_HOST``/``PORT``,
   default ``http://127.0.0.1:4000``), i.e. the server ``soundforge serve`` would start here.

    client = Client(connection(url=None, token=None))
    snapshot = client.get("/api/v1/admin/actors")      # the body, bytes
    client.post("/api/v1/admin/actors/restart", {"target": "Queues"})
"""

from __future__ import annotations

import http.client
import json
import os
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

from soundforge import __version__
from soundforge.config import load_settings
from soundforge.errors import SoundForgeError

__all__ = [
    "AccessDenied",
    "Client",
    "ClientConfigError",
    "ClientError",
    "Conflict",
    "Connection",
    "NotFound",
    "ServerError",
    "ServerUnavailable",
    "config_path",
    "connection",
]

T = TypeVar("T")

URL_VAR: Final = "SOUNDFORGE_URL"
TOKEN_VAR: Final = "SOUNDFORGE_TOKEN"
#: Seconds a request may take; a supervisor's restart waits for its children's shutdowns.
TIMEOUT: Final = 30.0

EX_NOINPUT: Final = 66
EX_UNAVAILABLE: Final = 69
EX_TEMPFAIL: Final = 75
EX_NOPERM: Final = 77
EX_CONFIG: Final = 78


class ClientError(SoundForgeError):
    """A request to the server could not be made or was refused."""


class ServerUnavailable(ClientError):
    exit_code = EX_UNAVAILABLE


class AccessDenied(ClientError):
    exit_code = EX_NOPERM


class NotFound(ClientError):
    exit_code = EX_NOINPUT


class Conflict(ClientError):
    exit_code = EX_TEMPFAIL


class ClientConfigError(ClientError):
    exit_code = EX_CONFIG


class ServerError(ClientError):
    exit_code = 1


_BY_STATUS: Final[dict[int, type[ClientError]]] = {
    401: AccessDenied,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    429: Conflict,
}


class Connection(msgspec.Struct, frozen=True):
    """Where the server is (``http://HOST:PORT``, no trailing slash) and the token to send."""

    url: str
    token: str


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/soundforge/client.toml``, else ``~/.config/soundforge/client.toml``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "soundforge" / "client.toml"


def connection(
    url: str | None, token: str | None, environ: Mapping[str, str] | None = None
) -> Connection:
    """The server and token to use: the flags, else the environment, else ``client.toml``,
    else (URL only) this machine's server settings."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    found_url, source = _first((url, "--url"), (env.get(URL_VAR), URL_VAR))
    found_token, _ = _first((token, ""), (env.get(TOKEN_VAR), ""))
    if found_url is None or found_token is None:  # a broken file matters only when read
        file = _read_config(path)
        if found_url is None:
            found_url, source = _first((file.get("url"), str(path)))
        if found_token is None:
            found_token, _ = _first((file.get("token"), ""))
    if found_url is None:
        found_url, source = _settings_url(env), "the server settings"
    if found_token is None:
        raise AccessDenied(
            f'no API token to send: pass --token, set {TOKEN_VAR} or write token = "sf_..." '
            f"in {path}; `soundforge tokens create ADMIN_EMAIL` prints one for an administrator"
        )
    return Connection(_checked_url(found_url, source), found_token)


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str]:
    for value, source in candidates:
        if value is not None and value.strip():
            return value.strip(), source
    return None, ""


def _read_config(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ClientConfigError(f"{path} cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ClientConfigError(f"{path} is not valid TOML ({error}); fix or remove it") from None
    for key, value in data.items():
        if key not in ("url", "token"):
            raise ClientConfigError(f"{path} has an unknown key {key!r}; it holds url and token")
        if not isinstance(value, str):
            raise ClientConfigError(f"{key} in {path} must be a string in quotes")
    return data


def _settings_url(environ: Mapping[str, str]) -> str:
    settings = load_settings(environ)
    if settings.port == 0:
        raise ClientConfigError(
            "SOUNDFORGE_PORT is 0 (the server picks a free port), so the server's URL is "
            f"unknown here; pass --url or set {URL_VAR}"
        )
    # A server listening on every address is reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def _checked_url(url: str, source: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientConfigError(
            f"{url!r} (from {source}) is not a server URL; write it as http://HOST:PORT"
        )
    return url.rstrip("/")


class Client:
    """Requests to one server as one token's user; the answers' bodies as bytes."""

    def __init__(self, connection: Connection, timeout: float = TIMEOUT) -> None:
        self.connection = connection
        self.timeout = timeout

    def get(self, path: str, query: Mapping[str, str] | None = None) -> bytes:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return self._request("GET", path + suffix, None)

    def post(self, path: str, body: Any = None) -> bytes:
        return self._request("POST", path, body)

    def decode(self, body: bytes, type_: type[T], path: str) -> T:
        """``body`` as ``type_``; an answer of another shape is a version mismatch."""
        try:
            return msgspec.json.decode(body, type=type_)
        except msgspec.DecodeError as error:
            raise ServerError(
                f"the server at {self.connection.url} answered {path} with JSON this command "
                f"does not understand ({error}); is it the same SoundForge version?"
            ) from None

    def _request(self, method: str, path: str, body: Any) -> bytes:
        url = self.connection.url + path
        headers = {
            "Authorization": f"Bearer {self.connection.token}",
            "Accept": "application/json",
            "User-Agent": f"soundforge-cli/{__version__}",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: bytes = response.read()
                kind = response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            raise self._refused(error, url) from None
        except TimeoutError:
            raise ServerUnavailable(
                f"the SoundForge server at {self.connection.url} did not answer within "
                f"{self.timeout:g} seconds"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            # OSError covers urllib's URLError (refused, unknown host, TLS) and resets;
            # HTTPException a peer that is not speaking HTTP.
            raise self._unreachable(error) from None
        if kind != "application/json":
            raise ServerUnavailable(
                f"{url} answered without JSON, so it is not a SoundForge server's API; "
                f"check --url or {URL_VAR}"
            )
        return answer

    def _refused(self, error: urllib.error.HTTPError, url: str) -> ClientError:
        """The server's one sentence for an error answer, with the exit code of its status."""
        try:
            message = json.loads(error.read())["error"]["message"]
        except (OSError, ValueError, KeyError, TypeError):
            message = None
        if not isinstance(message, str):
            return ServerUnavailable(
                f"{url} answered HTTP {error.code} ({error.reason}) without a SoundForge "
                f"error, so it is not a SoundForge server's API; check --url or {URL_VAR}"
            )
        return _BY_STATUS.get(error.code, ServerError)(message)

    def _unreachable(self, error: Exception) -> ServerUnavailable:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        url = self.connection.url
        if isinstance(reason, ConnectionRefusedError):
            return ServerUnavailable(
                f"no SoundForge server answers at {url}; start it with `soundforge serve`"
            )
        if isinstance(reason, TimeoutError):
            return ServerUnavailable(
                f"the SoundForge server at {url} did not answer within {self.timeout:g} seconds"
            )
        detail = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return ServerUnavailable(
            f"the SoundForge server at {url} cannot be reached ({detail}); check --url or {URL_VAR}"
        )
