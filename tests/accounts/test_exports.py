"""The accounts package's public names are pinned: a change here is an API change."""

from __future__ import annotations

import soundforge.accounts as accounts


def test_exports_are_pinned() -> None:
    assert sorted(accounts.__all__) == sorted(
        [
            "ACTIONS",
            "DEFAULT_SETTINGS",
            "SESSION_TTL",
            "AccountSuspended",
            "Action",
            "ApiToken",
            "AuditEntry",
            "InvalidAccount",
            "InvalidPreference",
            "LastAdmin",
            "LoginFailed",
            "NoUser",
            "TokenNameTaken",
            "User",
            "UserRow",
            "UserSettings",
            "WrongPassword",
            "analysis_options",
            "authenticate",
            "change_password",
            "count_users",
            "create_session",
            "create_token",
            "create_user",
            "default_owner",
            "end_all_sessions",
            "end_session",
            "get_preferences",
            "get_user",
            "get_user_by_email",
            "hash_password",
            "list_entries",
            "list_tokens",
            "list_users",
            "prune_expired",
            "record",
            "require_active",
            "revoke_token",
            "separation_options",
            "session_user",
            "set_role",
            "set_status",
            "token_user",
            "update_preferences",
            "verify_password",
        ]
    )
    for name in accounts.__all__:
        assert getattr(accounts, name) is not None


def test_error_statuses() -> None:
    assert accounts.LoginFailed.status == 401
    assert accounts.AccountSuspended.status == 403
    assert accounts.WrongPassword.status == 403
    assert accounts.NoUser.status == 404
    assert accounts.LastAdmin.status == 409
    assert accounts.TokenNameTaken.status == 409
    assert accounts.InvalidAccount.status == 422
    assert accounts.InvalidPreference.status == 422
