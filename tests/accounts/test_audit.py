"""The audit log: recording, the schema's rules, filtering and keyset pagination."""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.accounts import ACTIONS, Action, User, list_entries, record


async def test_record_and_read_back(db_pool: Any, admin: User, user: User) -> None:
    await record(
        db_pool,
        Action.USER_ROLE_CHANGED,
        actor_id=admin.id,
        target_type="user",
        target_id=user.id,
        details={"from": "user", "to": "admin"},
        ip="192.0.2.1",
    )
    [entry] = await list_entries(db_pool)
    assert entry.action == "user.role_changed"
    assert (entry.actor_kind, entry.actor_id, entry.actor_email) == (
        "user",
        admin.id,
        admin.email,
    )
    assert (entry.target_type, entry.target_id) == ("user", user.id)
    assert entry.details == {"from": "user", "to": "admin"}
    assert entry.ip == "192.0.2.1"
    assert entry.at is not None


async def test_system_entries_have_no_actor(db_pool: Any) -> None:
    await record(db_pool, "sessions.pruned", system=True, details={"count": 3})
    [entry] = await list_entries(db_pool)
    assert (entry.actor_kind, entry.actor_id, entry.actor_email) == ("system", None, None)
    assert entry.details == {"count": 3}


async def test_a_deleted_actor_leaves_the_entry(db_pool: Any, admin: User, user: User) -> None:
    await record(db_pool, Action.TRACK_DELETED, actor_id=user.id, target_type="track")
    await db_pool.execute("DELETE FROM users WHERE id = $1::uuid", user.id)
    [entry] = await list_entries(db_pool)
    assert (entry.actor_kind, entry.actor_id, entry.actor_email) == ("user", None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "login"},
        {"action": "User.Login"},
        {"action": "user.login", "target_type": "Track"},
        {"action": "user.login", "target_id": "x"},
        {
            "action": "user.login",
            "system": True,
            "actor_id": "6f1c8a52-3d2e-4a7b-9c1d-2e3f4a5b6c7d",
        },
        {"action": "user.login", "actor_id": "nope"},
    ],
)
async def test_record_refuses_what_the_schema_would(db_pool: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        await record(db_pool, **kwargs)
    assert await list_entries(db_pool) == []


def test_actions_are_dotted_and_complete() -> None:
    assert "user.login" in ACTIONS
    assert "settings.changed" in ACTIONS
    assert {"actor.restarted", "actor.stopped", "actor.killed"} <= ACTIONS
    assert len(ACTIONS) == 22
    assert all(action.count(".") == 1 for action in ACTIONS)


async def test_filter_by_action_segments(db_pool: Any, user: User) -> None:
    for action in ["user.login", "user.login_failed", "user.logout", "token.created"]:
        await record(db_pool, action, actor_id=user.id)
    assert [e.action for e in await list_entries(db_pool, action="user.")] == [
        "user.logout",
        "user.login_failed",
        "user.login",
    ]
    assert len(await list_entries(db_pool, action="user")) == 3
    assert [e.action for e in await list_entries(db_pool, action="user.login")] == ["user.login"]
    assert [e.action for e in await list_entries(db_pool, action="token")] == ["token.created"]
    assert await list_entries(db_pool, action="use") == []
    assert len(await list_entries(db_pool, action="")) == 4


async def test_filter_by_actor(db_pool: Any, admin: User, user: User) -> None:
    await record(db_pool, Action.USER_LOGIN, actor_id=admin.id)
    await record(db_pool, Action.USER_LOGIN, actor_id=user.id)
    await record(db_pool, Action.QUEUE_PAUSED, system=True)
    [entry] = await list_entries(db_pool, actor_id=user.id)
    assert entry.actor_id == user.id
    assert await list_entries(db_pool, actor_id="nope") == []


async def test_keyset_pagination(db_pool: Any, user: User) -> None:
    for n in range(7):
        await record(db_pool, Action.JOB_RETRIED, target_type="job", target_id=str(n))
    seen: list[str | None] = []
    before = None
    while page := await list_entries(db_pool, limit=3, before_id=before):
        assert len(page) <= 3
        seen += [entry.target_id for entry in page]
        before = page[-1].id
    assert seen == ["6", "5", "4", "3", "2", "1", "0"]
