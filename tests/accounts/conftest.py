"""Accounts fixtures: a fresh migrated database with an admin and a plain user."""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.accounts import User, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def admin(db_pool: Any) -> User:
    return await create_user(db_pool, "admin@example.com", PASSWORD, display_name="Ada Admin")


@pytest.fixture
async def user(db_pool: Any, admin: User) -> User:
    return await create_user(db_pool, "user@example.com", PASSWORD, display_name="Una User")
