"""The public surface of soundforge.runtime is pinned: changing it is a deliberate act."""

from __future__ import annotations

import importlib

import soundforge.runtime as runtime

EXPECTED = sorted(
    """
    BRUTAL_KILL IGNORE INFINITY KILL KILLED NOPROC NORMAL SHUTDOWN TIMEOUT
    ActorError AlreadyRegistered AlreadyStarted Application AutoShutdown CallError CallTimeout
    CallingSelf ChildCounts ChildError ChildInfo ChildSpec ChildType Clock Continue Down
    DynamicSupervisor Error Exit ExitReason From GenServer Ignore Init InvalidSpec Keys
    LoopClock ManualClock NoProc NoReply Node NotInProcess Ok Pid Port PortData PortExit
    PortOptions ProcessExit ProcessInfo PubSub Ref Registry Reply Restart ServerExited Shutdown
    StartResult Stop Strategy Supervisor SupervisorSpec Task TaskReply TaskSupervisor Telemetry
    Via call cast demonitor dynamic_supervisor exit framing gen_server get_state introspect
    is_alive is_normal link monitor port pubsub receive register registry reply self_pid send
    spawn spawn_link spawn_monitor start_supervisor stop supervisor task trap_exit unlink
    unregister whereis
    """.split()
)

MODULES = [
    "application",
    "child_spec",
    "clock",
    "dynamic_supervisor",
    "errors",
    "exit",
    "framing",
    "gen_server",
    "introspect",
    "node",
    "port",
    "process",
    "pubsub",
    "registry",
    "results",
    "supervisor",
    "task",
    "telemetry",
]


def test_exported_names_are_pinned() -> None:
    assert sorted(runtime.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(runtime, name) is not None, name


def test_every_public_module_declares_what_it_exports() -> None:
    for name in MODULES:
        module = importlib.import_module(f"soundforge.runtime.{name}")
        assert module.__doc__ and len(module.__doc__) > 80, f"{name} needs a docstring"
        for symbol in module.__all__:
            assert hasattr(module, symbol), f"{name}.{symbol}"
