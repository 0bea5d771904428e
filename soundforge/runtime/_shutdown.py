"""The shutdown protocol a supervisor applies to one child (OTP's ``supervisor:shutdown/2``).

Unlink (so no EXIT reaches the supervisor's mailbox), take a queued EXIT if the child had
already died, then by the spec: ``BRUTAL_KILL`` kills at once; a timeout sends ``shutdown``
and kills when the child has not exited in time; ``INFINITY`` waits as long as it takes.
A watch (a monitor with a callback) tells when the child is gone, so a child that unlinked
itself cannot hang the supervisor.
"""

from __future__ import annotations

import math

from soundforge.runtime.child_spec import BRUTAL_KILL, ShutdownSpec
from soundforge.runtime.exit import KILL, NOPROC, SHUTDOWN, ExitReason
from soundforge.runtime.process import Exit, Pid, Process, exit_future

__all__ = ["shutdown_child", "take_exit"]


def take_exit(me: Process, pid: Pid) -> Exit | None:
    """Remove and return a queued ``Exit`` from ``pid`` in ``me``'s mailbox."""
    mailbox = me.mailbox
    for i, msg in enumerate(mailbox):
        if type(msg) is Exit and msg.pid is pid:
            del mailbox[i]
            return msg
    return None


async def shutdown_child(me: Process, pid: Pid, shutdown: ShutdownSpec) -> ExitReason:
    """Stop ``pid`` (a child linked to ``me``) by ``shutdown``; return its exit reason."""
    child = pid._proc
    if child is not None:
        me.remove_link(child)
    queued = take_exit(me, pid)
    if child is None:
        return queued.reason if queued is not None else NOPROC
    gone = exit_future(child)
    if shutdown is BRUTAL_KILL:
        child.signal_exit(me.pid, KILL, linked=False)
        return await gone
    child.signal_exit(me.pid, SHUTDOWN, linked=False)
    if gone.done():
        return gone.result()
    timer = None
    if isinstance(shutdown, int | float) and not math.isinf(shutdown):
        timer = me.node.clock.call_later(
            float(shutdown), lambda: child.signal_exit(me.pid, KILL, linked=False)
        )
    try:
        return await gone
    finally:
        if timer is not None:
            timer.cancel()
