"""Practice presets on a real database: save, list, rename, save over, delete, the typed
settings and their mixer paths, and ownership (another user's track is a 404)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from soundforge.music import practice
from soundforge.music.practice import (
    PracticeLoop,
    PracticeSettings,
    PresetConflict,
    PresetNameInvalid,
    PresetNotFound,
    TrainerSettings,
)
from soundforge.music.tracks import TrackNotFound
from soundforge.studio import controls
from tests.music.conftest import Users, add_track

SLOW = PracticeSettings(
    loop=PracticeLoop(61_000, 79_500),
    count_in=4,
    rate=0.7,
    pitch=-2.5,
    trainer=TrainerSettings(enabled=True, step=0.05, target=1.0, every=3),
)


@pytest.fixture
async def track(db_pool: Any, users: Users) -> str:
    return await add_track(db_pool, users.alice, "Solo Study")


async def test_save_list_and_read_back_by_name_or_id(
    db_pool: Any, users: Users, track: str
) -> None:
    slow = await practice.create_preset(db_pool, users.alice, track, "  solo slow ", SLOW)
    assert slow.name == "solo slow" and slow.track_id == track
    assert slow.settings == SLOW
    plain = await practice.create_preset(db_pool, users.alice, track, "Chorus", PracticeSettings())
    assert plain.settings == PracticeSettings()

    listed = await practice.list_presets(db_pool, users.alice, track)
    assert [p.name for p in listed] == ["Chorus", "solo slow"]  # by name, case-insensitive
    assert await practice.get_preset(db_pool, users.alice, track, "solo slow") == slow
    assert await practice.get_preset(db_pool, users.alice, track, slow.id) == slow


async def test_names_are_unique_per_track(db_pool: Any, users: Users, track: str) -> None:
    await practice.create_preset(db_pool, users.alice, track, "verse", SLOW)
    with pytest.raises(PresetConflict, match="already has a preset called 'verse'"):
        await practice.create_preset(db_pool, users.alice, track, "verse", PracticeSettings())
    other = await add_track(db_pool, users.alice, "Another Song")
    await practice.create_preset(db_pool, users.alice, other, "verse", SLOW)  # another track: fine
    for blank in ("", "   "):
        with pytest.raises(PresetNameInvalid):
            await practice.create_preset(db_pool, users.alice, track, blank, SLOW)


async def test_rename_save_over_and_delete(db_pool: Any, users: Users, track: str) -> None:
    first = await practice.create_preset(db_pool, users.alice, track, "intro", PracticeSettings())
    renamed = await practice.update_preset(db_pool, users.alice, track, "intro", name="Intro")
    assert renamed.id == first.id and renamed.name == "Intro" and renamed.settings == first.settings
    assert renamed.updated_at >= first.updated_at

    saved, created = await practice.put_preset(db_pool, users.alice, track, "Intro", SLOW)
    assert not created and saved.id == first.id and saved.settings == SLOW
    made, created = await practice.put_preset(db_pool, users.alice, track, "bridge", SLOW)
    assert created and made.name == "bridge"
    with pytest.raises(PresetNotFound):  # an id that names nothing is not a new name
        await practice.put_preset(
            db_pool, users.alice, track, first.id.replace("-", "")[::-1], SLOW
        )

    await practice.create_preset(db_pool, users.alice, track, "outro", SLOW)
    with pytest.raises(PresetConflict):
        await practice.update_preset(db_pool, users.alice, track, "outro", name="bridge")

    await practice.delete_preset(db_pool, users.alice, track, first.id)
    await practice.delete_preset(db_pool, users.alice, track, "bridge")
    assert [p.name for p in await practice.list_presets(db_pool, users.alice, track)] == ["outro"]
    with pytest.raises(PresetNotFound, match="no practice preset 'bridge'"):
        await practice.delete_preset(db_pool, users.alice, track, "bridge")


async def test_a_name_shaped_like_an_id_still_names_its_preset(
    db_pool: Any, users: Users, track: str
) -> None:
    odd = "12345678-1234-5678-1234-567812345678"
    made = await practice.create_preset(db_pool, users.alice, track, odd, SLOW)
    assert (await practice.get_preset(db_pool, users.alice, track, odd)).id == made.id
    await practice.delete_preset(db_pool, users.alice, track, odd)
    assert await practice.list_presets(db_pool, users.alice, track) == []


async def test_presets_go_with_their_track(db_pool: Any, users: Users, track: str) -> None:
    await practice.create_preset(db_pool, users.alice, track, "gone soon", SLOW)
    await db_pool.execute("DELETE FROM tracks WHERE id = $1::uuid", track)
    assert await db_pool.fetchval("SELECT count(*) FROM practice_presets") == 0


Operation = Callable[[Any, str, str], Awaitable[Any]]

OPERATIONS: dict[str, Operation] = {
    "list": lambda c, u, t: practice.list_presets(c, u, t),
    "get": lambda c, u, t: practice.get_preset(c, u, t, "mine"),
    "create": lambda c, u, t: practice.create_preset(c, u, t, "theirs", SLOW),
    "update": lambda c, u, t: practice.update_preset(c, u, t, "mine", settings=SLOW),
    "put": lambda c, u, t: practice.put_preset(c, u, t, "mine", SLOW),
    "delete": lambda c, u, t: practice.delete_preset(c, u, t, "mine"),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
@pytest.mark.parametrize("whose", ["another user's", "missing", "malformed"])
async def test_another_users_track_is_a_404(
    db_pool: Any, users: Users, track: str, operation: Operation, whose: str
) -> None:
    await practice.create_preset(db_pool, users.alice, track, "mine", PracticeSettings())
    track_id = {"another user's": track, "missing": track[::-1], "malformed": "../x"}[whose]
    with pytest.raises(TrackNotFound) as raised:
        await operation(db_pool, users.bob, track_id)
    assert raised.value.status == 404
    assert [p.name for p in await practice.list_presets(db_pool, users.alice, track)] == ["mine"]
    assert (await practice.get_preset(db_pool, users.alice, track, "mine")).settings == (
        PracticeSettings()
    )


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"rate": 3}, "Expected `float` <= 2.0"),
        ({"pitch": -13}, "Expected `float` >= -12.0"),
        ({"count_in": 9}, "Expected `int` <= 8"),
        ({"loop": {"a_ms": 5000, "b_ms": 4000}}, "must come after its start"),
        ({"trainer": {"every": 0}}, "Expected `int` >= 1"),
        ({"trainer": {"step": 0.5}}, "Expected `float` <= 0.25"),
        ({"tempo": 1}, "unknown field `tempo`"),
    ],
)
def test_settings_are_typed(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=error):
        msgspec.convert(settings, PracticeSettings)


def test_settings_become_one_control_op_of_known_paths() -> None:
    values = SLOW.mixer_values()
    assert values == {
        "rate": 0.7,
        "pitch": -2.5,
        "practice.count_in": 4,
        "practice.trainer.enabled": True,
        "practice.trainer.step": 0.05,
        "practice.trainer.target": 1.0,
        "practice.trainer.every": 3,
        "loop.a_ms": 61_000,
        "loop.b_ms": 79_500,
        "loop.enabled": True,
    }
    assert list(values)[-1] == "loop.enabled"  # bounds first: the mixer checks b > a
    info = {"stems": ["vocals"], "duration_ms": 200_000}
    for path in values:
        controls.control_for("track:x", path, info)  # every path is one the mixer knows
    assert PracticeSettings().mixer_values()["loop.enabled"] is False
    assert "loop.a_ms" not in PracticeSettings().mixer_values()
