"""A real port program for the pool's tests, served by ``soundforge.audio.port_program``.

Operations: ``echo`` (returns its args), ``steps`` (reports ``n`` progress steps, then
returns ``n``), ``fail`` (an expected UnreadableAudio), ``bug`` (an unexpected ValueError),
``crash`` (exits with status 3), ``hang`` (sleeps until killed), ``pid`` (its OS pid).
"""

from __future__ import annotations

import os
import time
from typing import Any

from soundforge.audio.errors import UnreadableAudio
from soundforge.audio.port_program import serve


def _steps(args: Any, progress: Any) -> int:
    for step in range(args["n"]):
        time.sleep(args.get("pause", 0.0))
        progress((step + 1) / args["n"], "stepping")
    return int(args["n"])


def _fail(args: Any, progress: Any) -> None:
    raise UnreadableAudio("song.wav is not an audio file ffmpeg can read")


def _bug(args: Any, progress: Any) -> None:
    raise ValueError("an unexpected bug")


def _crash(args: Any, progress: Any) -> None:
    os._exit(3)


def _hang(args: Any, progress: Any) -> None:
    progress(0.5, "hanging")
    time.sleep(3600)


serve(
    "testprogram",
    {
        "echo": lambda args, progress: args,
        "steps": _steps,
        "fail": _fail,
        "bug": _bug,
        "crash": _crash,
        "hang": _hang,
        "pid": lambda args, progress: os.getpid(),
    },
)
