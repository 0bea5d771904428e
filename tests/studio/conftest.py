"""The studio's tests share one server per module (``api_server``, from the API tests)."""

from __future__ import annotations

from tests.web.api.conftest import api_server

__all__ = ["api_server"]
