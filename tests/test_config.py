"""Settings from the environment: defaults, overrides, and one clear sentence per mistake."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from soundforge.config import (
    ConfigError,
    InvalidDatabaseUrl,
    InvalidDataDir,
    InvalidNodeName,
    Settings,
    load_settings,
)


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message.rstrip(".") and "\n" not in message


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = load_settings({})
    if os.geteuid() == 0:  # root's home is private: a system directory, as Debian's services
        assert settings.data_dir == Path("/var/lib/soundforge")
    else:
        assert settings.data_dir == tmp_path / "soundforge"
    assert settings.database_url is None and settings.embedded_database
    assert settings.node_name.endswith(f"-{os.getpid()}")
    assert settings.node_name.startswith(os.uname().nodename)


def test_environment_overrides(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SOUNDFORGE_DATA_DIR": str(tmp_path / "data"),
            "SOUNDFORGE_DATABASE_URL": "postgresql://sf:secret@db.example:5433/soundforge",
            "SOUNDFORGE_NODE_NAME": "gpu-box-1",
        }
    )
    assert settings == Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql://sf:secret@db.example:5433/soundforge",
        node_name="gpu-box-1",
        osc_port=8000,
        midi=True,
    )
    assert not settings.embedded_database
    with pytest.raises(AttributeError):
        settings.node_name = "other"  # type: ignore[misc]


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOUNDFORGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOUNDFORGE_DATABASE_URL", "postgres:///soundforge?host=/run/postgresql")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgres:///soundforge?host=/run/postgresql"


def test_empty_variables_count_as_unset(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SOUNDFORGE_DATA_DIR": str(tmp_path),
            "SOUNDFORGE_DATABASE_URL": "",
            "SOUNDFORGE_NODE_NAME": "",
        }
    )
    assert settings.database_url is None and settings.node_name


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({"SOUNDFORGE_DATA_DIR": "~/sf"}).data_dir == tmp_path / "sf"


@pytest.mark.parametrize(
    ("env", "error", "words"),
    [
        ({"SOUNDFORGE_DATA_DIR": "data"}, InvalidDataDir, "absolute path"),
        ({"SOUNDFORGE_DATA_DIR": "/etc/hostname/soundforge"}, InvalidDataDir, "not a directory"),
        ({"SOUNDFORGE_DATABASE_URL": "mysql://u:pw@h/db"}, InvalidDatabaseUrl, "mysql://"),
        ({"SOUNDFORGE_DATABASE_URL": "localhost:5432"}, InvalidDatabaseUrl, "no scheme"),
        ({"SOUNDFORGE_DATABASE_URL": "postgresql://u:pw@h:99999/db"}, InvalidDatabaseUrl, "port"),
        ({"SOUNDFORGE_NODE_NAME": "two words"}, InvalidNodeName, "without spaces"),
    ],
)
def test_invalid_values_are_one_clear_sentence(
    tmp_path: Path, env: dict[str, str], error: type[ConfigError], words: str
) -> None:
    env = {"SOUNDFORGE_DATA_DIR": str(tmp_path), **env}
    with pytest.raises(error) as caught:
        load_settings(env)
    message = str(caught.value)
    assert one_sentence(message), message
    assert words in message
    assert "pw" not in message  # a password is never echoed
    assert caught.value.exit_code == 78


@pytest.fixture
def locked_dir() -> Iterator[Path]:
    """A directory this user may not write into: mode 0555, and immutable when we are root
    (root ignores modes; ``chattr +i`` binds it too)."""
    path = Path(tempfile.mkdtemp(prefix="sf-config-", dir="/tmp"))
    path.chmod(0o555)
    immutable = False
    try:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", path], capture_output=True, timeout=10)
            if done.returncode != 0:
                pytest.skip("root writes anywhere and chattr +i is not permitted here")
            immutable = True
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", path], capture_output=True, timeout=10)
        path.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("below", ["", "soundforge", "soundforge/deeper"])
def test_unwritable_data_dir(locked_dir: Path, below: str) -> None:
    target = locked_dir / below if below else locked_dir
    with pytest.raises(InvalidDataDir) as caught:
        load_settings({"SOUNDFORGE_DATA_DIR": str(target)})
    message = str(caught.value)
    assert "not writable" in message and str(locked_dir) in message, message
    assert one_sentence(message)


def test_settings_encode_as_config_values(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, node_name="n1")
    assert msgspec.structs.asdict(settings) == {
        "data_dir": tmp_path,
        "database_url": None,
        "node_name": "n1",
        "spotify_client_id": None,
        "spotify_client_secret": None,
        "spotify_api_url": None,
        "spotify_token_url": None,
        "media_search": None,
        "max_audio_minutes": 240.0,
        "host": "127.0.0.1",
        "port": 4000,
        "max_upload_mb": 2048,
        "allow_private_urls": False,
        "secure_cookies": False,
        "open_registration": True,
        "osc_host": "127.0.0.1",
        "osc_port": 0,
        "midi": False,
    }


def test_max_audio_minutes_is_read_and_checked(tmp_path: Path) -> None:
    env = {"SOUNDFORGE_DATA_DIR": str(tmp_path)}
    assert load_settings({**env, "SOUNDFORGE_MAX_AUDIO_MINUTES": "180"}).max_audio_minutes == 180
    with pytest.raises(ConfigError, match="between 1 and 1440"):
        load_settings({**env, "SOUNDFORGE_MAX_AUDIO_MINUTES": "forever"})


def test_spotify_credentials_come_from_the_environment(tmp_path: Path) -> None:
    env = {"SOUNDFORGE_DATA_DIR": str(tmp_path), "SOUNDFORGE_SPOTIFY_CLIENT_ID": "abc"}
    settings = load_settings(env)
    assert (settings.spotify_client_id, settings.spotify_client_secret) == ("abc", None)


def test_web_settings_are_read_and_checked(tmp_path: Path) -> None:
    env = {
        "SOUNDFORGE_DATA_DIR": str(tmp_path),
        "SOUNDFORGE_HOST": "0.0.0.0",
        "SOUNDFORGE_PORT": "8080",
        "SOUNDFORGE_MAX_UPLOAD_MB": "10",
        "SOUNDFORGE_ALLOW_PRIVATE_URLS": "yes",
    }
    settings = load_settings(env)
    assert (settings.host, settings.port, settings.max_upload_mb) == ("0.0.0.0", 8080, 10)
    assert settings.allow_private_urls and not settings.secure_cookies
    with pytest.raises(ConfigError, match="SOUNDFORGE_PORT must be a whole number"):
        load_settings({**env, "SOUNDFORGE_PORT": "http"})
    with pytest.raises(ConfigError, match="must be 1 or 0"):
        load_settings({**env, "SOUNDFORGE_SECURE_COOKIES": "maybe"})
    assert settings.open_registration
    assert not load_settings({**env, "SOUNDFORGE_REGISTRATION": "closed"}).open_registration
    with pytest.raises(ConfigError, match="must be open or closed"):
        load_settings({**env, "SOUNDFORGE_REGISTRATION": "invite"})


def test_studio_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {"SOUNDFORGE_DATA_DIR": str(tmp_path)}
    defaults = load_settings(env)
    assert (defaults.osc_host, defaults.osc_port, defaults.midi) == ("127.0.0.1", 8000, True)
    custom = load_settings(
        {
            **env,
            "SOUNDFORGE_OSC_HOST": "0.0.0.0",
            "SOUNDFORGE_OSC_PORT": "9000",
            "SOUNDFORGE_MIDI": "0",
        }
    )
    assert (custom.osc_host, custom.osc_port, custom.midi) == ("0.0.0.0", 9000, False)
    with pytest.raises(ConfigError, match="SOUNDFORGE_OSC_PORT"):
        load_settings({**env, "SOUNDFORGE_OSC_PORT": "70000"})
