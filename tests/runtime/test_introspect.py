"""Introspection: any process as data, the whole tree in one call."""

from __future__ import annotations

import msgspec

from soundforge.runtime.child_spec import Restart
from soundforge.runtime.exit import KILL
from soundforge.runtime.gen_server import call, cast
from soundforge.runtime.introspect import ProcessInfo, describe, tree
from soundforge.runtime.node import Node
from soundforge.runtime.process import Pid, exit, send, trap_exit
from soundforge.runtime.results import Ok
from soundforge.runtime.supervisor import (
    Supervisor,
    SupervisorSpec,
    start_supervisor,
    terminate_child,
    which_children,
)
from tests.runtime.workers import Behaviour, Child, Trace, spec


def find(infos: list[ProcessInfo], **fields: object) -> ProcessInfo:
    for info in infos:
        if all(getattr(info, k) == v for k, v in fields.items()):
            return info
        try:
            return find(info.children, **fields)
        except LookupError:
            continue
    raise LookupError(fields)


async def test_describe_a_gen_server(shell: Pid) -> None:
    result = await Child.start_link(("solo", Trace(), Behaviour()), name="solo")
    assert isinstance(result, Ok)
    pid = result.pid
    cast(pid, "incr")
    await call(pid, "count")
    info = describe(pid)
    assert info is not None
    assert info.pid == repr(pid) and info.name == "solo" and info.kind == "gen_server"
    assert info.behaviour == "Child" and info.parent == repr(shell)
    assert info.handled == 2 and info.summary == "1"
    assert info.links == [repr(shell)] and info.status == "waiting"
    exit(pid, KILL)
    assert describe(pid) is None


async def test_tree_nests_children_in_start_order_with_restarts_and_gaps(
    node: Node, shell: Pid
) -> None:
    trap_exit(True)
    trace = Trace()
    inner = Supervisor.child_spec(SupervisorSpec([spec("leaf", trace)]), id="inner")
    sup = await start_supervisor(
        [spec("a", trace), inner, spec("t", trace, restart=Restart.TRANSIENT)]
    )
    assert isinstance(sup, Ok)
    first = {c.id: c.pid for c in await which_children(sup.pid)}
    exit(first["a"], "boom")
    assert await terminate_child(sup.pid, "t") == Ok()
    send(first["inner"], "unexpected")  # one message sitting in a mailbox
    roots = tree(node)
    top = find(roots, pid=repr(sup.pid))
    assert [c.child_id for c in top.children] == ["a", "inner", "t"]
    a, inner_info, stopped = top.children
    assert a.restarts == 1 and a.pid != repr(first["a"])
    assert [c.child_id for c in inner_info.children] == ["leaf"]
    assert inner_info.kind == "supervisor" and inner_info.summary["strategy"] == "one_for_one"
    assert stopped.pid is None and stopped.status == "stopped"
    encoded = msgspec.json.decode(msgspec.json.encode(roots))
    assert isinstance(encoded, list) and encoded, "the tree is JSON for the console"


async def test_restarting_children_show_as_restarting(node: Node, shell: Pid) -> None:
    trace = Trace()
    flaky = Behaviour(fail_starts_after=1)
    sup = await start_supervisor([spec("x", trace, flaky)], max_restarts=10**6, max_seconds=3600)
    assert isinstance(sup, Ok)
    pid = (await which_children(sup.pid))[0].pid
    exit(pid, "boom")
    for _ in range(200):
        (child,) = find(tree(node), pid=repr(sup.pid)).children
        if child.status == "restarting":
            break
        await call(sup.pid, "count_children")
    assert child.status == "restarting" and child.pid is None
    assert await terminate_child(sup.pid, "x") == Ok()
