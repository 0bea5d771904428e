"""Errors that only the import library raises, next to the code that raises them.

Each subclasses one of :mod:`soundforge.audio.errors` so that code which only knows the
shared classes still handles it right (``retryable``, HTTP status); the port carries the
subclass's name and its one-sentence message.
"""

from __future__ import annotations

from soundforge.audio.errors import AudioError, UnsupportedSource

__all__ = ["SourceTooLarge", "SpotifyNotConfigured"]


class SpotifyNotConfigured(UnsupportedSource):
    """A Spotify link arrived but this server has no (working) Spotify API credentials."""

    status = 503


class SourceTooLarge(AudioError):
    """The file, or the download, is bigger than the configured limit."""

    status = 413
