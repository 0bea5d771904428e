"""Random operation sequences against a static supervisor, checked against a model of OTP.

Each seed drives crashes (with every kind of exit reason), terminate/restart/delete/start
calls across the three strategies; after every step the supervisor's children must match the
model, every listed pid must be alive, and the node must hold no process that is not in the
tree (nothing leaked, nothing orphaned). Seeds are fixed, so a failure reproduces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from soundforge.runtime.child_spec import Restart, Strategy
from soundforge.runtime.exit import NORMAL, SHUTDOWN, Shutdown, is_normal
from soundforge.runtime.gen_server import cast
from soundforge.runtime.node import Node
from soundforge.runtime.process import Down, Pid, is_alive, monitor, receive
from soundforge.runtime.results import Ok
from soundforge.runtime.supervisor import (
    count_children,
    delete_child,
    restart_child,
    start_child,
    start_supervisor,
    terminate_child,
    which_children,
)
from tests.runtime.workers import Trace, spec

REASONS = [NORMAL, SHUTDOWN, Shutdown("x"), "boom", ValueError("bad")]


@dataclass
class Expected:
    restart: Restart
    running: bool = True


def _restart_needed(restart: Restart, reason: object) -> bool:
    return restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and not is_normal(reason))


class Model:
    """What OTP says the children are after each operation."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.children: dict[str, Expected] = {}

    def crash(self, cid: str, reason: object) -> None:
        child = self.children[cid]
        if not _restart_needed(child.restart, reason):
            if child.restart is Restart.TEMPORARY:
                del self.children[cid]
            else:
                child.running = False
            return
        ids = list(self.children)
        if self.strategy is Strategy.ONE_FOR_ONE:
            group = [cid]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            group = ids
        else:
            group = ids[ids.index(cid) :]
        for gid in group:
            if self.children[gid].restart is Restart.TEMPORARY:
                del self.children[gid]
            else:
                self.children[gid].running = True

    def terminate(self, cid: str) -> None:
        if self.children[cid].restart is Restart.TEMPORARY:
            del self.children[cid]
        else:
            self.children[cid].running = False


async def _crash(pid: Pid, reason: object) -> None:
    ref = monitor(pid)
    cast(pid, ("exit", reason))
    await receive(match=lambda m: isinstance(m, Down) and m.ref is ref, timeout=2)


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize("seed", range(6))
async def test_random_operations_match_the_model(
    node: Node, shell: Pid, strategy: Strategy, seed: int
) -> None:
    rng = random.Random(seed)
    trace = Trace()
    model = Model(strategy)
    initial = []
    for i in range(5):
        restart = rng.choice(list(Restart))
        initial.append(spec(f"c{i}", trace, restart=restart))
        model.children[f"c{i}"] = Expected(restart)
    result = await start_supervisor(
        initial, strategy=strategy, max_restarts=10**6, max_seconds=3600
    )
    assert isinstance(result, Ok)
    sup = result.pid
    fresh = 5
    for step in range(60):
        actual = {c.id: c.pid for c in await which_children(sup)}
        op = rng.choice(["crash", "crash", "terminate", "restart", "delete", "start"])
        cid = rng.choice(list(model.children)) if model.children else None
        if op == "crash" and cid is not None and isinstance(actual.get(cid), Pid):
            reason = rng.choice(REASONS)
            await _crash(actual[cid], reason)
            model.crash(cid, reason)
        elif op == "terminate" and cid is not None:
            assert await terminate_child(sup, cid) == Ok()
            model.terminate(cid)
        elif op == "restart" and cid is not None:
            outcome = await restart_child(sup, cid)
            if model.children[cid].running:
                assert not isinstance(outcome, Ok)
            else:
                assert isinstance(outcome, Ok)
                model.children[cid].running = True
        elif op == "delete" and cid is not None:
            outcome = await delete_child(sup, cid)
            if model.children[cid].running:
                assert not isinstance(outcome, Ok)
            else:
                assert outcome == Ok()
                del model.children[cid]
        elif op == "start":
            restart = rng.choice(list(Restart))
            new_id = f"c{fresh}"
            fresh += 1
            assert isinstance(await start_child(sup, spec(new_id, trace, restart=restart)), Ok)
            model.children[new_id] = Expected(restart)
        children = await which_children(sup)
        got = {c.id: isinstance(c.pid, Pid) for c in children}
        want = {k: v.running for k, v in model.children.items()}
        assert got == want, f"seed {seed} step {step} after {op} {cid}"
        assert list(got) == [k for k in want], "children stay in start order"
        running = [c.pid for c in children if isinstance(c.pid, Pid)]
        assert all(is_alive(p) for p in running)
        counts = await count_children(sup)
        assert (counts.specs, counts.active) == (len(children), len(running))
        live = {p.pid for p in node.processes.values()}
        assert live == {shell, sup, *running}, "no leaked or orphaned process"
