"""The program side of an audio port: a loop that serves requests one at a time.

Each audio program (``python -m soundforge.audio.analyzer`` and its siblings) calls
:func:`serve` with its handlers. ``serve`` takes stdin/stdout for frames (anything the
libraries print goes to stderr, i.e. the server's log), runs the warm-up, says
:class:`~soundforge.audio.protocol.Ready`, then answers each
:class:`~soundforge.audio.protocol.Request` until the port closes stdin.

A handler is ``handler(args, progress) -> result``. Progress calls become throttled
:class:`~soundforge.audio.protocol.Progress` frames (at most one per
:data:`PROGRESS_INTERVAL` unless a whole percent more is done, and never backwards). An
:class:`~soundforge.audio.errors.AudioError` becomes a ``Failed`` reply with its sentence;
any other exception is logged with its traceback and reported as a failure of the program
itself, and the program keeps serving (the next file may be fine).

    serve("analyzer", {"analyze": run_analysis}, warm_up=analysis.warm_up)
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Final

from soundforge.audio.errors import AudioError, InternalError, RateLimited
from soundforge.audio.protocol import Done, Failed, Progress, Ready, Request
from soundforge.runtime.framing import FrameWriter, port_stdio

__all__ = ["PROGRESS_INTERVAL", "Handler", "serve"]

log = logging.getLogger(__name__)

#: The least time between two progress frames of one request (seconds).
PROGRESS_INTERVAL: Final = 0.1

Handler = Callable[[Any, Callable[[float, str], None]], Any]


class _Reporter:
    """Turns progress calls into throttled, monotonic Progress frames for one request."""

    def __init__(self, writer: FrameWriter, request_id: int) -> None:
        self._writer = writer
        self._id = request_id
        self._sent = -1.0
        self._stage = ""
        self._at = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        fraction = min(max(float(fraction), self._sent, 0.0), 1.0)
        now = time.monotonic()
        due = now - self._at >= PROGRESS_INTERVAL or fraction - self._sent >= 0.01
        finished = fraction == 1.0 and self._sent < 1.0
        if stage != self._stage or (due and fraction > self._sent) or finished:
            self._writer.write(Progress(self._id, round(fraction, 4), stage))
            self._sent, self._stage, self._at = fraction, stage, now


def _failure(request_id: int, error: Exception) -> Failed:
    if isinstance(error, AudioError):
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        # The server knows the classes of soundforge.audio.errors; a library's own subclass
        # travels as the nearest of them, so the server can still tell what kind it is.
        known = next(c for c in type(error).__mro__ if c.__module__ == AudioError.__module__)
        return Failed(request_id, known.__name__, str(error), error.retryable, retry_after)
    return Failed(
        request_id,
        InternalError.__name__,
        f"the audio program failed unexpectedly ({type(error).__name__}: {error}); "
        "the details are in the server's log",
        retryable=True,
    )


def serve(
    program: str,
    handlers: Mapping[str, Handler],
    *,
    warm_up: Callable[[], object] | None = None,
) -> None:
    """Serve requests on stdin/stdout until stdin closes (the port closed or the server died)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"{program}: %(name)s: %(message)s"
    )
    requests, replies = port_stdio(type=Request)
    started = time.monotonic()
    if warm_up is not None:
        warm_up()
    replies.write(Ready(program, os.getpid(), round(time.monotonic() - started, 3)))
    for request in requests:
        handler = handlers.get(request.op)
        if handler is None:
            known = ", ".join(sorted(handlers))
            message = f"the {program} has no operation {request.op!r} (it knows {known})"
            replies.write(Failed(request.id, "UnknownOperation", message))
            continue
        try:
            result = handler(request.args, _Reporter(replies, request.id))
        except Exception as error:  # reported to the caller; the program serves the next one
            if not isinstance(error, AudioError):
                traceback.print_exc(file=sys.stderr)
            replies.write(_failure(request.id, error))
        else:
            replies.write(Done(request.id, result))
