"""The messages between an audio port actor and its program (both ends import this).

One request at a time per program: the actor sends a :class:`Request`; the program answers
with any number of :class:`Progress` frames and then exactly one :class:`Done` or
:class:`Failed` carrying the same ``id``. When it has started (and warmed its libraries up:
torch, demucs models, librosa's numba code), the program sends :class:`Ready` once, before
it reads any request. Frames are msgpack (``soundforge.runtime.framing``); these Structs are
tagged so one decoder reads them all.

A :class:`Failed` is an *expected* failure of the work (a corrupt file, a dead URL): the
program lives on and takes the next request. An unexpected crash is the program's exit,
which the port actor turns into its own exit, and its supervisor restarts it.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Done", "Failed", "Progress", "Ready", "Reply", "Request"]


class Request(msgspec.Struct, frozen=True, tag="request"):
    """Run ``op`` with ``args`` (a msgpack-able value, usually a Struct as a map)."""

    id: int
    op: str
    args: Any = None


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    """The program is warm: ``warm_up_s`` is how long its imports and warm-up took."""

    program: str
    pid: int
    warm_up_s: float


class Progress(msgspec.Struct, frozen=True, tag="progress"):
    """``fraction`` (0..1) of request ``id`` is done; ``stage`` says what it is doing."""

    id: int
    fraction: float
    stage: str


class Done(msgspec.Struct, frozen=True, tag="done"):
    """Request ``id`` succeeded with ``result``."""

    id: int
    result: Any = None


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    """Request ``id`` failed: ``error`` is the error class's name, ``message`` one sentence."""

    id: int
    error: str
    message: str
    retryable: bool = False
    retry_after: float | None = None


Reply = Ready | Progress | Done | Failed
