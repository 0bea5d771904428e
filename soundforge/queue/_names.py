"""Clearing the queue tree's names of a killed predecessor before a supervisor starts anew.

Every long-lived actor of the queue tree (notifier, lifeline, each queue's foreman and
producer, pruner, cron) registers a fixed name and traps exits. When a supervisor above
them is *killed* (``exit(sup, KILL)``: no shutdown protocol), they get their parent's exit
signal as a message and run ``terminate`` — the producer gives running jobs up to
``shutdown_grace`` to finish — still holding their names. Meanwhile the supervisor's own
parent restarts it at once, and the new children fail to register (``AlreadyStarted``) on
every immediate retry, exhausting the parent's restart intensity within milliseconds:
killing ``Queues`` once took the whole server down (found by ``soundforge chaos``,
``docs/chaos.md``).

OTP has the same race (a killed supervisor's trapping children terminate on their own while
the restarted one registers the same names) and leaves it to ``terminate`` being quick. Here
the new incarnation's ``init`` first waits, a bounded time, for such leftovers — processes
holding one of its names below a dead ancestor — and kills those still running: two
producers of one queue on one node must never overlap, or the new one's reconcile would
hand back jobs the old one is still running.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import Final

from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import resolve
from soundforge.runtime.process import (
    Down,
    Process,
    Ref,
    current_node,
    demonitor,
    exit,
    monitor,
    receive,
)

__all__ = ["LEFTOVER_WAIT", "clear_leftovers"]

log = logging.getLogger("soundforge.queue")

#: How long a new incarnation waits for its killed predecessor's actors to finish their
#: ``terminate`` before killing them (it blocks the supervisor above while it waits).
LEFTOVER_WAIT: Final = 5.0


async def clear_leftovers(names: Iterable[Hashable], wait: float = LEFTOVER_WAIT) -> None:
    """Wait until no leftover of a killed subtree holds any of ``names``; kill stragglers.

    Runs in the starting supervisor's process (its ``init``). A holder with no dead ancestor
    is left alone, so a second tree under the same names still fails with ``AlreadyStarted``.
    """
    waiting: dict[Ref, Process] = {}
    for name in names:
        holder = resolve(name)
        if holder is not None and _below_dead_ancestor(holder):
            waiting[monitor(holder.pid)] = holder
    clock = current_node().clock
    deadline = clock.time() + wait
    while waiting:
        left = max(0.0, deadline - clock.time())
        try:
            down = await receive(lambda m: isinstance(m, Down) and m.ref in waiting, timeout=left)
        except TimeoutError:
            break
        waiting.pop(down.ref, None)
    for ref, holder in waiting.items():
        log.warning(
            "%r of a killed queue supervisor was still stopping after %g s; killing it",
            holder.name,
            wait,
        )
        exit(holder.pid, KILL)  # death is immediate: the name is free when this returns
        demonitor(ref, flush=True)


def _below_dead_ancestor(proc: Process) -> bool:
    parent = proc.parent
    while parent is not None:
        if not parent.alive:
            return True
        parent = parent.parent
    return False
