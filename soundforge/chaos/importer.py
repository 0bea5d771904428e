"""The import stream: a steady trickle of short synthetic songs through the product's import.

A runtime process of its own (outside the supervision tree, so the monkey never picks it)
that every ``every`` seconds renders a few seconds of a synthetic song
(:func:`soundforge.audio.separation.synth.synth_song`, a different seed and tempo each
time, so no two files are duplicates), writes it as a WAV and imports it for the harness's
user with :func:`soundforge.music.imports.import_source`, exactly as ``soundforge import
FILE`` does: the downloader port resolves it, the track and its download job commit
together, and the pipeline takes it from there.

An import that fails because of the chaos (its downloader was killed mid-resolve, the
database was restarting) is counted with its reason and the stream goes on: an import is a
client's request, and a client sees those errors as one sentence and tries again later.

    pid, ref = spawn_monitor(run_importer, ImportPlan(...), self_pid())
    send(pid, StopImporting(self_pid()))      # then receive the ImportSummary
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.audio.media import write_audio
from soundforge.audio.separation.synth import synth_song
from soundforge.errors import SoundForgeError
from soundforge.jobs.context import pipeline_context
from soundforge.music.imports import import_source
from soundforge.runtime.process import Pid, receive, send

__all__ = ["ImportPlan", "ImportSummary", "StopImporting", "run_importer"]

#: The slowest tempo and the fastest, for variety in what the analyzer sees.
_BPM: Final = (84.0, 150.0)


class ImportPlan(msgspec.Struct, frozen=True):
    """What to import: for whom, how often, how long each song is, where files go."""

    user_id: str
    every: float
    seconds: float
    inbox: Path
    seed: int


class StopImporting(msgspec.Struct, frozen=True):
    """Finish the import in progress, then reply with an :class:`ImportSummary`."""

    reply_to: Pid


class ImportSummary(msgspec.Struct, kw_only=True):
    attempted: int = 0
    #: Track ids created, in order.
    created: list[str] = msgspec.field(default_factory=list)
    duplicates: int = 0
    #: One sentence per failed import (``"#7 PortFailed: ..."``).
    failures: list[str] = msgspec.field(default_factory=list)


async def run_importer(plan: ImportPlan, harness: Pid) -> None:
    """The importer process's body: import until told to stop, then reply and end."""
    summary = ImportSummary()
    rng = random.Random(plan.seed)
    plan.inbox.mkdir(parents=True, exist_ok=True)
    due = time.monotonic()
    while True:
        try:
            msg: Any = await receive(
                lambda m: isinstance(m, StopImporting), timeout=max(0.0, due - time.monotonic())
            )
        except TimeoutError:
            pass
        else:
            send(msg.reply_to, summary)
            return
        due += plan.every
        await _import_one(plan, rng, summary)


async def _import_one(plan: ImportPlan, rng: random.Random, summary: ImportSummary) -> None:
    summary.attempted += 1
    number = summary.attempted
    path = plan.inbox / f"chaos-{number:04d}.wav"
    bpm = round(rng.uniform(*_BPM), 1)
    await asyncio.to_thread(_write_song, path, plan.seconds, bpm, rng.randrange(2**31))
    try:
        outcome = await import_source(pipeline_context(), plan.user_id, str(path), allow_paths=True)
    except (SoundForgeError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        # What chaos does to a client: a port killed mid-resolve, the database restarting,
        # a pool being restarted. The client is told; the stream goes on.
        summary.failures.append(f"#{number} {type(error).__name__}: {error}")
        return
    summary.created += outcome.created
    summary.duplicates += len(outcome.duplicates)


def _write_song(path: Path, seconds: float, bpm: float, seed: int) -> None:
    song = synth_song(seconds, bpm=bpm, seed=seed)
    write_audio(path, song.mixture, song.sample_rate, format="wav", bit_depth=16)
