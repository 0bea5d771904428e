"""Per-user preferences: defaults, validation, storage and the pipeline's option maps."""

from __future__ import annotations

import logging
from typing import Any, get_args

import msgspec
import pytest

from soundforge.accounts import (
    DEFAULT_SETTINGS,
    InvalidPreference,
    NoUser,
    User,
    UserSettings,
    analysis_options,
    get_preferences,
    separation_options,
    update_preferences,
)
from soundforge.accounts.preferences import _EXPECTED
from soundforge.audio.analysis.options import AnalysisOptions
from soundforge.audio.separation.options import (
    ENGINES,
    OutputFormat,
    SeparationOptions,
    check_options,
)


async def _stored(db_pool: Any, user: User) -> Any:
    return await db_pool.fetchval(
        "SELECT settings::text FROM user_settings WHERE user_id = $1::uuid", user.id
    )


async def test_defaults_without_a_row(db_pool: Any, user: User) -> None:
    assert await get_preferences(db_pool, user.id) == DEFAULT_SETTINGS == UserSettings()


@pytest.mark.parametrize("user_id", ["nope", "6f1c8a52-3d2e-4a7b-9c1d-2e3f4a5b6c7d"])
async def test_unknown_users_have_no_preferences(db_pool: Any, user_id: str) -> None:
    with pytest.raises(NoUser):
        await get_preferences(db_pool, user_id)
    with pytest.raises(NoUser):
        await update_preferences(db_pool, user_id, {"stem_format": "flac"})


async def test_round_trip_stores_only_non_defaults(db_pool: Any, user: User) -> None:
    changes = {
        "stem_format": "flac",
        "bit_depth": 24,
        "separation_engine": "auto",
        "separation_model": "htdemucs_6s",
        "analysis_min_bpm": 80,
    }
    prefs = await update_preferences(db_pool, user.id, changes)
    assert prefs.stem_format == "flac"
    assert prefs.bit_depth == 24
    assert prefs.analysis_min_bpm == 80.0
    assert await get_preferences(db_pool, user.id) == prefs
    assert msgspec.json.decode(await _stored(db_pool, user)) == {
        "stem_format": "flac",
        "bit_depth": 24,
        "separation_model": "htdemucs_6s",
        "analysis_min_bpm": 80.0,
    }
    # Later updates merge, and a value set back to its default leaves the stored object.
    prefs = await update_preferences(
        db_pool, user.id, {"analysis_pitch": True, "separation_model": None}
    )
    assert prefs.stem_format == "flac"
    assert prefs.analysis_pitch is True
    assert prefs.separation_model is None
    assert "separation_model" not in msgspec.json.decode(await _stored(db_pool, user))


async def test_users_have_their_own_preferences(db_pool: Any, admin: User, user: User) -> None:
    await update_preferences(db_pool, user.id, {"stem_format": "mp3"})
    assert (await get_preferences(db_pool, admin.id)).stem_format == "wav"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "blue"}, "there is no setting named 'colour'"),
        ({"stem_format": "ogg"}, "stem_format must be one of wav, flac, mp3, not 'ogg'"),
        ({"bit_depth": 8}, "bit_depth must be one of 16, 24, 32"),
        ({"bit_depth": "24"}, "bit_depth must be"),
        ({"separation_shifts": 0}, "separation_shifts must be a whole number from 1 to 10"),
        ({"separation_shifts": 11}, "separation_shifts must be"),
        ({"separation_shifts": True}, "separation_shifts must be"),
        ({"separation_model": "../etc/passwd"}, "separation_model must be a model name"),
        ({"separation_model": "HTDemucs"}, "separation_model must be"),
        ({"separation_engine": "spleeter"}, "separation_engine must be"),
        ({"analysis_hpss": 1}, "analysis_hpss must be true or false"),
        ({"analysis_key_profile": "major"}, "analysis_key_profile must be"),
        ({"analysis_max_bpm": 1000}, "analysis_max_bpm must be a number from 20 to 400"),
        ({"stem_format": "flac", "bit_depth": 32}, "bit_depth must be 16 or 24 for flac stems"),
        (
            {"separation_engine": "default", "separation_model": "htdemucs"},
            "separation_model must be spleeter-dsp or null for the default engine",
        ),
        ({"analysis_min_bpm": 150, "analysis_max_bpm": 100}, "must be below analysis_max_bpm"),
    ],
)
async def test_bad_updates_name_the_field_and_save_nothing(
    db_pool: Any, user: User, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPreference, match=message) as raised:
        await update_preferences(db_pool, user.id, changes)
    assert raised.value.status == 422
    assert await get_preferences(db_pool, user.id) == DEFAULT_SETTINGS


async def test_a_stored_value_that_no_longer_validates_reads_as_the_default(
    db_pool: Any, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    await db_pool.execute(
        """INSERT INTO user_settings (user_id, settings)
           VALUES ($1::uuid, '{"stem_format": "ogg", "removed": 1, "bit_depth": 24}')""",
        user.id,
    )
    with caplog.at_level(logging.WARNING, logger="soundforge.accounts.preferences"):
        prefs = await get_preferences(db_pool, user.id)
    assert prefs == UserSettings(bit_depth=24)
    assert "stem_format" in caplog.text
    assert "removed" in caplog.text
    # Saving rewrites the object without the stale keys.
    await update_preferences(db_pool, user.id, {"analysis_hpss": True})
    assert msgspec.json.decode(await _stored(db_pool, user)) == {
        "bit_depth": 24,
        "analysis_hpss": True,
    }


def test_every_field_has_an_error_hint() -> None:
    assert set(_EXPECTED) == set(UserSettings.__struct_fields__)


def test_the_choices_match_the_pipelines_options() -> None:
    fields = {field.name: field for field in msgspec.structs.fields(UserSettings)}
    assert set(get_args(fields["separation_engine"].type)) == set(ENGINES)
    assert set(get_args(fields["stem_format"].type)) == set(get_args(OutputFormat))
    key_profile = msgspec.structs.fields(AnalysisOptions)
    profiles = next(field.type for field in key_profile if field.name == "key_profile")
    assert set(get_args(fields["analysis_key_profile"].type)) == set(get_args(profiles))


def test_default_option_maps_are_the_pipelines_defaults() -> None:
    separation = msgspec.convert(separation_options(DEFAULT_SETTINGS), SeparationOptions)
    assert separation == SeparationOptions()
    assert msgspec.convert(analysis_options(DEFAULT_SETTINGS), AnalysisOptions) == AnalysisOptions()


@pytest.mark.parametrize("stem_format", ["wav", "flac", "mp3"])
@pytest.mark.parametrize("bit_depth", [16, 24, 32])
async def test_every_accepted_setting_is_a_valid_job(
    db_pool: Any, user: User, stem_format: str, bit_depth: int
) -> None:
    changes = {
        "stem_format": stem_format,
        "bit_depth": bit_depth,
        "separation_engine": "demucs",
        "separation_model": "htdemucs_ft",
        "separation_shifts": 10,
        "analysis_hpss": True,
        "analysis_pitch": True,
        "analysis_key_profile": "edma",
        "analysis_min_bpm": 70,
        "analysis_max_bpm": 180.5,
    }
    try:
        prefs = await update_preferences(db_pool, user.id, changes)
    except InvalidPreference:
        assert (stem_format, bit_depth) == ("flac", 32)
        return
    separation = msgspec.convert(separation_options(prefs), SeparationOptions)
    check_options(separation)
    assert (separation.engine, separation.model, separation.shifts) == ("demucs", "htdemucs_ft", 10)
    assert (separation.format, separation.bit_depth) == (stem_format, bit_depth)
    analysis = msgspec.convert(analysis_options(prefs), AnalysisOptions)
    assert analysis == AnalysisOptions(
        hpss=True, pitch=True, key_profile="edma", min_bpm=70.0, max_bpm=180.5
    )
