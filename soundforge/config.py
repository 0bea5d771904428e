"""Settings: what a SoundForge node is configured with, read once from the environment.

This is the counterpart of an Elixir release's ``config/runtime.exs``: the values a running
node needs, read from environment variables at boot, validated, and frozen into one
:class:`Settings` value that the application passes down the tree (no module-level config,
so tests build their own). Unlike Elixir's application environment there is no global
``Application.get_env``; whoever needs a setting is handed it.

    settings = load_settings()                     # from os.environ
    settings = load_settings({"SOUNDFORGE_DATA_DIR": "/srv/soundforge"})

==========================  =========================================================
variable                    meaning
==========================  =========================================================
``SOUNDFORGE_DATA_DIR``     where tracks, stems, models and the embedded database live
                            (default: the platform's user data dir, ``platformdirs``)
``SOUNDFORGE_DATABASE_URL`` a shared PostgreSQL (``postgresql://...``); unset means the
                            embedded cluster under ``<data>/pg``
``SOUNDFORGE_NODE_NAME``    this node's name in job records (default: ``host-pid``)
``SOUNDFORGE_SPOTIFY_``     ``CLIENT_ID`` and ``CLIENT_SECRET``: Spotify Web API client
                            credentials for Spotify links (other sources need none);
                            ``API_URL``/``TOKEN_URL`` point at another endpoint
``SOUNDFORGE_MEDIA_SEARCH`` where Spotify tracks' audio is searched for (default
                            ``ytsearch5:{query}``; any yt-dlp search prefix or URL template)
``SOUNDFORGE_MAX_AUDIO_``   ``MINUTES``: the longest audio an import accepts (default 240)
``SOUNDFORGE_HOST``         the web endpoint's address (default ``127.0.0.1``)
``SOUNDFORGE_PORT``         the web endpoint's port (default ``4000``; ``0`` picks a free one)
``SOUNDFORGE_MAX_UPLOAD_``  ``MB``: the largest file an upload accepts (default 2048)
``SOUNDFORGE_ALLOW_``       ``PRIVATE_URLS``: ``1`` lets users import from loopback and private
                            addresses (off by default: a pasted URL must not reach the
                            server's own network)
``SOUNDFORGE_REGISTRATION`` ``open`` (default): anyone who reaches the server may create an
                            account; ``closed``: only the first account, then administrators
                            create accounts (``soundforge users create``)
``SOUNDFORGE_SECURE_``      ``COOKIES``: ``1`` marks session cookies Secure (set it behind
                            an HTTPS proxy; plain-HTTP requests then cannot log in)
``SOUNDFORGE_OSC_HOST``     the OSC server's UDP address (default ``127.0.0.1``; ``0.0.0.0``
                            lets tablets on the network in)
``SOUNDFORGE_OSC_PORT``     its UDP port (default ``8000``; ``0`` picks a free one)
``SOUNDFORGE_MIDI``         ``0`` turns the search for MIDI controllers off (default ``1``)
==========================  =========================================================

An empty variable counts as unset. Invalid values raise a :class:`ConfigError` whose message
names the variable and says what to set it to; it never echoes a database password.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import msgspec
import platformdirs

from soundforge.errors import SoundForgeError

__all__ = [
    "ConfigError",
    "InvalidDataDir",
    "InvalidDatabaseUrl",
    "InvalidNodeName",
    "Settings",
    "default_data_dir",
    "default_node_name",
    "load_settings",
]

DATA_DIR_VAR: Final = "SOUNDFORGE_DATA_DIR"
DATABASE_URL_VAR: Final = "SOUNDFORGE_DATABASE_URL"
NODE_NAME_VAR: Final = "SOUNDFORGE_NODE_NAME"
MAX_AUDIO_MINUTES_VAR: Final = "SOUNDFORGE_MAX_AUDIO_MINUTES"
HOST_VAR: Final = "SOUNDFORGE_HOST"
PORT_VAR: Final = "SOUNDFORGE_PORT"
MAX_UPLOAD_VAR: Final = "SOUNDFORGE_MAX_UPLOAD_MB"
ALLOW_PRIVATE_URLS_VAR: Final = "SOUNDFORGE_ALLOW_PRIVATE_URLS"
SECURE_COOKIES_VAR: Final = "SOUNDFORGE_SECURE_COOKIES"
REGISTRATION_VAR: Final = "SOUNDFORGE_REGISTRATION"
OSC_HOST_VAR: Final = "SOUNDFORGE_OSC_HOST"
OSC_PORT_VAR: Final = "SOUNDFORGE_OSC_PORT"
MIDI_VAR: Final = "SOUNDFORGE_MIDI"
SPOTIFY_VARS: Final = {
    "spotify_client_id": "SOUNDFORGE_SPOTIFY_CLIENT_ID",
    "spotify_client_secret": "SOUNDFORGE_SPOTIFY_CLIENT_SECRET",
    "spotify_api_url": "SOUNDFORGE_SPOTIFY_API_URL",
    "spotify_token_url": "SOUNDFORGE_SPOTIFY_TOKEN_URL",
    "media_search": "SOUNDFORGE_MEDIA_SEARCH",
}

_POSTGRES_SCHEMES: Final = frozenset({"postgres", "postgresql"})
_MAX_NODE_NAME: Final = 200


class ConfigError(SoundForgeError):
    """A setting is invalid; the CLI exits with ``EX_CONFIG`` (78, from sysexits.h)."""

    exit_code = 78


class InvalidDataDir(ConfigError):
    """``SOUNDFORGE_DATA_DIR`` is relative, not a directory, or not writable."""


class InvalidDatabaseUrl(ConfigError):
    """``SOUNDFORGE_DATABASE_URL`` is not a PostgreSQL URL."""


class InvalidNodeName(ConfigError):
    """``SOUNDFORGE_NODE_NAME`` is empty, too long or contains whitespace."""


#: Where a server running as root keeps its data, as Debian's services do: root's home is
#: private (0700), and the embedded PostgreSQL runs as an unprivileged user who must reach it.
SYSTEM_DATA_DIR = Path("/var/lib/soundforge")


def default_data_dir() -> Path:
    """The platform's per-user data directory (``~/.local/share/soundforge``), or
    ``/var/lib/soundforge`` for root."""
    if os.geteuid() == 0:
        return SYSTEM_DATA_DIR
    return Path(platformdirs.user_data_dir("soundforge", appauthor=False))


def default_node_name() -> str:
    """``<hostname>-<pid>``: unique among the nodes sharing one database at any moment."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A node's configuration. Build it with :func:`load_settings`, which validates."""

    data_dir: Path
    database_url: str | None = None
    node_name: str = msgspec.field(default_factory=default_node_name)
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = None
    spotify_api_url: str | None = None
    spotify_token_url: str | None = None
    #: Where a Spotify track's audio is searched for (a yt-dlp search prefix or URL template).
    media_search: str | None = None
    max_audio_minutes: float = 240.0
    #: The web endpoint's address and port (``serve --host/--port`` override them).
    host: str = "127.0.0.1"
    port: int = 4000
    max_upload_mb: int = 2048
    #: Whether a pasted URL may point at loopback, private or link-local addresses.
    allow_private_urls: bool = False
    secure_cookies: bool = False
    #: Whether anyone may register (the very first account always may).
    open_registration: bool = True
    #: The OSC server's UDP address (docs/osc.md); 0.0.0.0 lets tablets on the LAN in.
    osc_host: str = "127.0.0.1"
    #: Its UDP port; 0 picks any free one. :func:`load_settings` defaults to 8000; a Settings
    #: built in code (tests, embedding) takes any free port so that several can run at once.
    osc_port: int = 0
    #: Whether the studio looks for MIDI controllers (ALSA or JACK); :func:`load_settings`
    #: defaults to yes, a Settings built in code to no (no polling of the host's MIDI system).
    midi: bool = False

    @property
    def embedded_database(self) -> bool:
        """True when no URL is configured: the node runs its own cluster under ``<data>/pg``."""
        return self.database_url is None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    raw_dir = env.get(DATA_DIR_VAR) or None
    data_dir = _data_dir(raw_dir) if raw_dir is not None else default_data_dir()
    _check_writable(data_dir)
    url = env.get(DATABASE_URL_VAR) or None
    if url is not None:
        _check_database_url(url)
    node_name = env.get(NODE_NAME_VAR) or default_node_name()
    _check_node_name(node_name)
    spotify = {field: env.get(var) or None for field, var in SPOTIFY_VARS.items()}
    return Settings(
        data_dir=data_dir,
        database_url=url,
        node_name=node_name,
        max_audio_minutes=_max_minutes(env.get(MAX_AUDIO_MINUTES_VAR) or None),
        host=env.get(HOST_VAR) or "127.0.0.1",
        port=_integer(PORT_VAR, env.get(PORT_VAR) or None, 4000, 0, 65535),
        max_upload_mb=_integer(MAX_UPLOAD_VAR, env.get(MAX_UPLOAD_VAR) or None, 2048, 1, 1 << 20),
        allow_private_urls=_flag(ALLOW_PRIVATE_URLS_VAR, env.get(ALLOW_PRIVATE_URLS_VAR) or None),
        secure_cookies=_flag(SECURE_COOKIES_VAR, env.get(SECURE_COOKIES_VAR) or None),
        open_registration=_registration(env.get(REGISTRATION_VAR) or None),
        osc_host=env.get(OSC_HOST_VAR) or "127.0.0.1",
        osc_port=_integer(OSC_PORT_VAR, env.get(OSC_PORT_VAR) or None, 8000, 0, 65535),
        midi=_flag(MIDI_VAR, env.get(MIDI_VAR) or "1"),
        **spotify,
    )


def _integer(var: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{var} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _registration(raw: str | None) -> bool:
    if raw is None or raw.strip().lower() == "open":
        return True
    if raw.strip().lower() == "closed":
        return False
    raise ConfigError(f"{REGISTRATION_VAR} must be open or closed, not {raw!r}.")


def _flag(var: str, raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{var} must be 1 or 0 (true or false), not {raw!r}.")


def _max_minutes(raw: str | None) -> float:
    if raw is None:
        return 240.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 24 * 60:
        raise ConfigError(
            f"{MAX_AUDIO_MINUTES_VAR} must be a number of minutes between 1 and 1440, "
            f"not {raw!r}; set it to e.g. 180 for three-hour DJ sets."
        )
    return value


def _data_dir(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidDataDir(
            f"{DATA_DIR_VAR} must be an absolute path, not {raw!r}; "
            "set it to a full path such as /var/lib/soundforge."
        )
    return path


def _check_writable(path: Path) -> None:
    """The directory exists and is writable, or its nearest existing parent lets us create it.

    Nothing is created here: loading settings has no side effects.
    """
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidDataDir(
            f"The data directory {path} cannot be created because {existing} is not a "
            f"directory; set {DATA_DIR_VAR} to a directory you can write."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "it is" if existing == path else f"{existing} is"
        raise InvalidDataDir(
            f"The data directory {path} is not writable because {where} read-only for this "
            f"user; set {DATA_DIR_VAR} to a directory you can write."
        )


def _check_database_url(url: str) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _POSTGRES_SCHEMES:
        shown = f"{scheme}://" if scheme else "no scheme"
        raise InvalidDatabaseUrl(
            f"{DATABASE_URL_VAR} must be a postgres:// or postgresql:// URL such as "
            f"postgresql://soundforge:secret@db.example:5432/soundforge, but it has {shown}."
        )
    try:
        urlsplit(url).port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise InvalidDatabaseUrl(
            f"{DATABASE_URL_VAR} has an invalid port; write it as host:5432 "
            "(a number from 1 to 65535)."
        ) from None


def _check_node_name(name: str) -> None:
    if not name.strip() or len(name) > _MAX_NODE_NAME or any(c.isspace() for c in name):
        raise InvalidNodeName(
            f"{NODE_NAME_VAR} must be 1 to {_MAX_NODE_NAME} characters without spaces, "
            f"not {name!r}; set it to something like studio-1."
        )
