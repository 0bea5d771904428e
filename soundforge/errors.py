"""The one error base class of SoundForge.

Every error that can reach a user (CLI, JSON API, page) derives from :class:`SoundForgeError`
and carries a message that is one clear sentence saying what went wrong and, where possible,
what to do. Specific subclasses live next to the code that raises them; this module holds only
the base, so that every layer (the runtime included) can depend on it without depending on
each other.
"""

from __future__ import annotations

__all__ = ["SoundForgeError"]


class SoundForgeError(Exception):
    """Base of every SoundForge error.

    ``exit_code`` is what the CLI exits with and ``status`` the HTTP status the API answers
    with when this error reaches a user.
    """

    exit_code: int = 1
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
