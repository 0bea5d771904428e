"""Per-user preferences: how this user's tracks are separated and analysed.

The settings are one JSON object per user (``user_settings.settings``) and their typed
defaults live here, in :class:`UserSettings`. A missing key means the default, and the
stored object holds **only the keys that differ from the defaults**: saving a value equal to
its default removes the key. The settings page posts every field on each save, so storing
every given key would pin everyone who ever saved the page to today's defaults, while this
way a changed default reaches every user who did not choose otherwise.

Reading is forgiving and writing is strict. A stored key that is unknown or whose value no
longer validates (a setting renamed or narrowed in a later version) reads as the default
and is logged, so an old row never breaks a page. An update with an unknown key or a bad
value is refused with :class:`InvalidPreference`, naming the field.

The values map onto the pipeline's job options (:func:`separation_options`,
:func:`analysis_options`); the allowed values mirror ``SeparationOptions`` and
``AnalysisOptions``, which are not imported here because importing them loads numpy and
librosa into the web server (a test keeps the two in step)::

    prefs = await update_preferences(pool, user.id, {"stem_format": "flac", "bit_depth": 24})
    SeparateArgs(track_id, options=separation_options(prefs))
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final, Literal

import asyncpg  # type: ignore[import-untyped]
import msgspec

from soundforge.accounts._db import transaction, uuid_or_none
from soundforge.accounts.users import InvalidAccount, NoUser

__all__ = [
    "DEFAULT_SETTINGS",
    "InvalidPreference",
    "UserSettings",
    "analysis_options",
    "get_preferences",
    "separation_options",
    "update_preferences",
]

log = logging.getLogger(__name__)

#: The embedded engine's only model (``soundforge.audio.separation.options.EMBEDDED_MODEL``).
_EMBEDDED_MODEL: Final = "spleeter-dsp"
#: The bit depths each stem format can be written with (as ``check_options`` allows).
_BIT_DEPTHS: Final = {"wav": (16, 24, 32), "flac": (16, 24), "mp3": (16, 24, 32)}
_MODEL_NAME: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class InvalidPreference(InvalidAccount):
    """An update names an unknown setting or gives one a value it cannot take (422)."""


class UserSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One user's preferences; every field has its default.

    * ``separation_engine``: ``auto`` uses demucs when its weights are at hand, else the
      embedded engine (``default``).
    * ``separation_model``: a model name (``htdemucs_6s``), None for the engine's default.
    * ``stem_format``/``bit_depth``: how stems are written (FLAC has no 32-bit).
    * ``separation_shifts``: demucs' random-shift passes; each one costs a full pass.
    * ``analysis_hpss``: harmonic/percussive separation before key and chords; helps
      drum-heavy music, costs 4-7 s per 3 minutes.
    * ``analysis_pitch``: the pitch (f0) track of the mix; costs 15-25 s per 3 minutes.
    * ``analysis_key_profile``: the key profiles that score the chroma.
    * ``analysis_min_bpm``/``analysis_max_bpm``: the range tempo is searched in.
    """

    separation_engine: Literal["auto", "demucs", "default"] = "auto"
    separation_model: Annotated[str, msgspec.Meta(pattern=_MODEL_NAME)] | None = None
    stem_format: Literal["wav", "flac", "mp3"] = "wav"
    bit_depth: Literal[16, 24, 32] = 16
    separation_shifts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    analysis_hpss: bool = False
    analysis_pitch: bool = False
    analysis_key_profile: Literal["auto", "temperley", "krumhansl", "edma"] = "auto"
    analysis_min_bpm: Annotated[float, msgspec.Meta(ge=20, le=400)] = 60.0
    analysis_max_bpm: Annotated[float, msgspec.Meta(ge=20, le=400)] = 200.0


DEFAULT_SETTINGS: Final = UserSettings()

# What a bad value of each field should have been, for the error message.
_EXPECTED: Final[dict[str, str]] = {
    "separation_engine": "one of auto, demucs, default",
    "separation_model": "a model name of lower-case letters, digits, '.', '_' and '-', or null",
    "stem_format": "one of wav, flac, mp3",
    "bit_depth": "one of 16, 24, 32",
    "separation_shifts": "a whole number from 1 to 10",
    "analysis_hpss": "true or false",
    "analysis_pitch": "true or false",
    "analysis_key_profile": "one of auto, temperley, krumhansl, edma",
    "analysis_min_bpm": "a number from 20 to 400",
    "analysis_max_bpm": "a number from 20 to 400",
}
_ENCODE: Final = msgspec.json.Encoder()
_OBJECT: Final = msgspec.json.Decoder(dict[str, Any])


async def get_preferences(conn: Any, user_id: str) -> UserSettings:
    """A user's settings, defaults filled in; NoUser for an unknown account."""
    key = uuid_or_none(user_id)
    row = None
    if key is not None:
        row = await conn.fetchrow(
            """SELECT s.settings::text AS settings FROM users u
               LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id = $1::uuid""",
            key,
        )
    if row is None:
        raise NoUser(f"there is no account {user_id!r}; it may have been deleted")
    stored = _OBJECT.decode(row["settings"]) if row["settings"] is not None else {}
    return _from_stored(stored, user_id)


async def update_preferences(conn: Any, user_id: str, changes: dict[str, Any]) -> UserSettings:
    """Apply ``changes`` (setting name → value) and return the whole new settings.

    Raises InvalidPreference naming the first bad field (nothing is saved then) and NoUser
    for an unknown account. The row is locked while it is read and written, so two
    concurrent updates of different fields both take effect.
    """
    for name, value in changes.items():
        _check_field(name, value)
    key = uuid_or_none(user_id)
    if key is None:
        raise NoUser(f"there is no account {user_id!r}; it may have been deleted")
    async with transaction(conn) as tx:
        try:
            await tx.execute(
                "INSERT INTO user_settings (user_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
                key,
            )
        except asyncpg.ForeignKeyViolationError:
            raise NoUser(f"there is no account {user_id!r}; it may have been deleted") from None
        stored = _OBJECT.decode(
            await tx.fetchval(
                "SELECT settings::text FROM user_settings WHERE user_id = $1::uuid FOR UPDATE",
                key,
            )
        )
        current = msgspec.to_builtins(_from_stored(stored, user_id))
        settings = msgspec.convert({**current, **changes}, UserSettings)
        _check_combination(settings)
        await tx.execute(
            "UPDATE user_settings SET settings = $2::text::jsonb WHERE user_id = $1::uuid",
            key,
            _ENCODE.encode(_non_defaults(settings)).decode(),
        )
    return settings


def separation_options(prefs: UserSettings) -> dict[str, Any]:
    """The ``SeparateArgs.options`` map (``SeparationOptions`` fields) these settings ask for."""
    options: dict[str, Any] = {
        "engine": prefs.separation_engine,
        "format": prefs.stem_format,
        "bit_depth": prefs.bit_depth,
        "shifts": prefs.separation_shifts,
    }
    if prefs.separation_model is not None:
        options["model"] = prefs.separation_model
    return options


def analysis_options(prefs: UserSettings) -> dict[str, Any]:
    """The ``AnalyzeArgs.options`` map (``AnalysisOptions`` fields) these settings ask for."""
    return {
        "hpss": prefs.analysis_hpss,
        "pitch": prefs.analysis_pitch,
        "key_profile": prefs.analysis_key_profile,
        "min_bpm": prefs.analysis_min_bpm,
        "max_bpm": prefs.analysis_max_bpm,
    }


def _check_field(name: str, value: Any) -> None:
    if name not in _EXPECTED:
        known = ", ".join(UserSettings.__struct_fields__)
        raise InvalidPreference(f"there is no setting named {name!r}; the settings are {known}")
    try:
        msgspec.convert({name: value}, UserSettings)
    except msgspec.ValidationError:
        raise InvalidPreference(f"{name} must be {_EXPECTED[name]}, not {value!r}") from None


def _check_combination(settings: UserSettings) -> None:
    allowed = _BIT_DEPTHS[settings.stem_format]
    if settings.bit_depth not in allowed:
        depths = " or ".join(str(depth) for depth in allowed)
        raise InvalidPreference(
            f"bit_depth must be {depths} for {settings.stem_format} stems, not {settings.bit_depth}"
        )
    if settings.separation_engine == "default" and settings.separation_model not in (
        None,
        _EMBEDDED_MODEL,
    ):
        raise InvalidPreference(
            f"separation_model must be {_EMBEDDED_MODEL} or null for the default engine, "
            f"not {settings.separation_model!r}"
        )
    if settings.analysis_min_bpm >= settings.analysis_max_bpm:
        raise InvalidPreference(
            f"analysis_min_bpm ({settings.analysis_min_bpm:g}) must be below "
            f"analysis_max_bpm ({settings.analysis_max_bpm:g})"
        )


def _from_stored(stored: dict[str, Any], user_id: str) -> UserSettings:
    """Settings from a stored object, skipping keys that no longer validate (logged)."""
    good: dict[str, Any] = {}
    for name, value in stored.items():
        try:
            _check_field(name, value)
        except InvalidPreference as error:
            log.warning("ignoring a stored setting of user %s: %s", user_id, error)
            continue
        good[name] = value
    return msgspec.convert(good, UserSettings)


def _non_defaults(settings: UserSettings) -> dict[str, Any]:
    values: dict[str, Any] = msgspec.to_builtins(settings)
    defaults: dict[str, Any] = msgspec.to_builtins(DEFAULT_SETTINGS)
    return {name: value for name, value in values.items() if value != defaults[name]}
