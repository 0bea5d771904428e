"""Errors of the audio pipeline: what went wrong with a track, in one sentence.

The port programs raise these; the port protocol carries them to the server as a typed
failure (class name, message, ``retryable``), and the job worker decides from ``retryable``
whether the queue retries the job (a network hiccup, a rate limit) or stops it at once
(a file that is not audio will not become audio on the next attempt).
"""

from __future__ import annotations

from typing import ClassVar

from soundforge.errors import SoundForgeError

__all__ = [
    "AudioError",
    "AudioTooLong",
    "DiskFull",
    "EngineUnavailable",
    "InternalError",
    "NoMatch",
    "PortFailed",
    "RateLimited",
    "ReportedError",
    "SourceNotFound",
    "SourceUnavailable",
    "UnreadableAudio",
    "UnsupportedSource",
]


class AudioError(SoundForgeError):
    """A failure of the audio pipeline that the user can understand and act on."""

    status = 422
    #: Whether trying the same job again later may succeed.
    retryable: ClassVar[bool] = False


class UnreadableAudio(AudioError):
    """The file is not audio, or is empty or truncated."""


class AudioTooLong(AudioError):
    """The audio is longer than the configured limit; the message says how to raise it."""

    status = 413
    HINT = "set SOUNDFORGE_MAX_AUDIO_MINUTES to allow longer audio"

    def __init__(self, message: str) -> None:
        super().__init__(message if self.HINT in message else f"{message} ({self.HINT})")


class UnsupportedSource(AudioError):
    """No importer handles this URL or path."""

    status = 400


class SourceNotFound(AudioError):
    """The URL or path answers, but what it names does not exist (HTTP 404, no such file)."""

    status = 404


class NoMatch(AudioError):
    """A metadata-only source (Spotify) had no downloadable audio that matches it."""

    status = 404


class SourceUnavailable(AudioError):
    """The source could not be reached (network error, server error); may work later."""

    status = 502
    retryable = True


class RateLimited(AudioError):
    """The source asked us to slow down; ``retry_after`` seconds when it said how long."""

    status = 429
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DiskFull(AudioError):
    """Writing a result failed for lack of space; nothing partial was kept."""

    status = 507
    retryable = True


class EngineUnavailable(AudioError):
    """A separation engine or model cannot run here (no weights offline, no CUDA...)."""


class InternalError(AudioError):
    """The audio program hit a bug (its traceback is in the server's log); may work later."""

    status = 500
    retryable = True


class PortFailed(AudioError):
    """The program serving a request died before answering (crash, out of memory, killed)."""

    status = 503
    retryable = True


class ReportedError(AudioError):
    """A program's AudioError of a class the server does not import (one of an audio
    library's own); it keeps the program's sentence and its judgement on retrying."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable  # type: ignore[misc]  # per instance, from the program
