"""The accounts context: users, their passwords (argon2id) and roles."""

from soundforge.accounts.users import (
    InvalidAccount,
    NoUser,
    User,
    create_user,
    default_owner,
    get_user_by_email,
    hash_password,
    verify_password,
)

__all__ = [
    "InvalidAccount",
    "NoUser",
    "User",
    "create_user",
    "default_owner",
    "get_user_by_email",
    "hash_password",
    "verify_password",
]
