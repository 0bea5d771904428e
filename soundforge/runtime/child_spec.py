"""Child specifications: what a supervisor knows about each child, validated as OTP does.

    ChildSpec(id="mixer", start=MixerState.start_link, args=(session,),
              restart=Restart.TRANSIENT, shutdown=10.0)

``start`` is an async function that starts *and links* the child and returns a start result
(``Ok(pid)``, ``Ok(pid, info)``, ``IGNORE`` or ``Error(reason)``); every GenServer's
``start_link`` is one. ``shutdown`` is seconds (``0`` allowed), :data:`BRUTAL_KILL` or
:data:`INFINITY`; it defaults to 5 s for workers and infinity for supervisors. Bad specs raise
:class:`InvalidSpec` whose ``reason`` is OTP's term (``("invalid_restart_type", x)``...).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from soundforge.runtime.errors import InvalidSpec
from soundforge.runtime.results import StartResult

__all__ = [
    "BRUTAL_KILL",
    "INFINITY",
    "AutoShutdown",
    "ChildSpec",
    "ChildType",
    "Restart",
    "ShutdownSpec",
    "Strategy",
    "child_spec",
    "validate_children",
]


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class ChildType(enum.Enum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"


class Strategy(enum.Enum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class AutoShutdown(enum.Enum):
    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


class _BrutalKill:
    __slots__ = ()

    def __repr__(self) -> str:
        return "brutal_kill"


BRUTAL_KILL: Final = _BrutalKill()
INFINITY: Final = math.inf

ShutdownSpec = float | int | _BrutalKill
StartFunction = Callable[..., Awaitable[StartResult]]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child of a supervisor (OTP's child spec map)."""

    id: Any  # any hashable term; often the child's class
    start: StartFunction
    args: tuple[Any, ...] = ()
    restart: Restart = Restart.PERMANENT
    shutdown: ShutdownSpec | None = None
    type: ChildType = ChildType.WORKER
    significant: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> ChildSpec:
        return replace(self, **changes)

    @property
    def shutdown_value(self) -> ShutdownSpec:
        if self.shutdown is not None:
            return self.shutdown
        return INFINITY if self.type is ChildType.SUPERVISOR else 5.0


_MAP_KEYS: Final = frozenset(
    {"id", "start", "args", "restart", "shutdown", "type", "significant", "meta"}
)


def child_spec(value: Any) -> ChildSpec:
    """Normalise a child description: a ChildSpec, a map (unknown keys ignored, as OTP does),
    a class with ``child_spec(arg)``, or ``(cls, arg)``; then validate it."""
    if isinstance(value, ChildSpec):
        spec = value
    elif isinstance(value, Mapping):
        if "id" not in value:
            raise InvalidSpec("missing_id", "a child spec needs an 'id'")
        if "start" not in value:
            raise InvalidSpec("missing_start", f"child {value['id']!r} needs a 'start' function")
        spec = ChildSpec(**{k: v for k, v in value.items() if k in _MAP_KEYS})
    elif isinstance(value, tuple) and len(value) == 2 and hasattr(value[0], "child_spec"):
        spec = value[0].child_spec(value[1])
    elif hasattr(value, "child_spec"):
        spec = value.child_spec(None)
    else:
        raise InvalidSpec(("invalid_child_spec", value), f"{value!r} is not a child spec")
    _validate(spec)
    return spec


def _validate(spec: ChildSpec) -> None:
    if not callable(spec.start):
        raise InvalidSpec(("invalid_mfa", spec.start), f"child {spec.id!r}: start is not callable")
    if not isinstance(spec.args, tuple):
        raise InvalidSpec(("invalid_mfa", spec.args), f"child {spec.id!r}: args must be a tuple")
    if not isinstance(spec.restart, Restart):
        raise InvalidSpec(
            ("invalid_restart_type", spec.restart),
            f"child {spec.id!r}: restart must be permanent, transient or temporary, "
            f"not {spec.restart!r}",
        )
    if not isinstance(spec.type, ChildType):
        raise InvalidSpec(
            ("invalid_child_type", spec.type),
            f"child {spec.id!r}: type must be worker or supervisor, not {spec.type!r}",
        )
    shutdown = spec.shutdown
    if (
        shutdown is not None
        and shutdown is not BRUTAL_KILL
        and (isinstance(shutdown, bool) or not isinstance(shutdown, int | float) or shutdown < 0)
    ):
        raise InvalidSpec(
            ("invalid_shutdown", shutdown),
            f"child {spec.id!r}: shutdown must be seconds >= 0, BRUTAL_KILL or INFINITY, "
            f"not {shutdown!r}",
        )
    if not isinstance(spec.significant, bool):
        raise InvalidSpec(
            ("invalid_significant", spec.significant),
            f"child {spec.id!r}: significant must be True or False",
        )
    if spec.significant and spec.restart is Restart.PERMANENT:
        raise InvalidSpec(
            ("bad_combination", (("restart", "permanent"), ("significant", True))),
            f"child {spec.id!r}: a significant child must be transient or temporary",
        )


def validate_children(specs: list[Any], auto_shutdown: AutoShutdown) -> list[ChildSpec]:
    """Validate a static supervisor's children: each spec, unique ids, significance."""
    children = [child_spec(s) for s in specs]
    seen: set[Hashable] = set()
    for spec in children:
        if spec.id in seen:
            raise InvalidSpec(
                ("duplicate_child_name", spec.id), f"two children have the id {spec.id!r}"
            )
        seen.add(spec.id)
        check_significance(spec, auto_shutdown)
    return children


def check_significance(spec: ChildSpec, auto_shutdown: AutoShutdown) -> None:
    if spec.significant and auto_shutdown is AutoShutdown.NEVER:
        raise InvalidSpec(
            ("bad_combination", (("auto_shutdown", "never"), ("significant", True))),
            f"child {spec.id!r} is significant but the supervisor's auto_shutdown is never",
        )
