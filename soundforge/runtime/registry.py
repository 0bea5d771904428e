"""Registry: Elixir's ``Registry``, a local key/process table owned by one process.

A registry maps keys to ``(pid, value)`` entries. With :attr:`Keys.UNIQUE` a key has at most
one owner; with :attr:`Keys.DUPLICATE` any number of processes may register a key, the same
process several times. Registrations are made *by the calling process, for itself*, and are
removed automatically when it dies::

    await Registry.start_link(keys=Keys.UNIQUE, name="sessions")

    # inside a process:
    match register("sessions", "track:42", {"since": now}):
        case Ok(owner):                      # owner: the registry's pid, now linked to us
            ...
        case Error(KeyTaken(pid)):           # {:error, {:already_registered, pid}}
            ...
    lookup("sessions", "track:42")           # [(pid, {"since": now})]

    # A GenServer named through a unique registry (Erlang's {via, Registry, {reg, key}}):
    await Mixer.start_link(arg, name=Via("sessions", ("mixer", 42)))
    await call(Via("sessions", ("mixer", 42)), "state")

Like ETS under Elixir's registry, the table is *read and written directly by the callers*
(the runtime is single-threaded, so every operation is atomic), while the registry process
*owns* it: it traps exits, is linked to every registrant, and when it dies the table goes with
it and linked registrants receive its exit signal (non-trapping ones die with it).

Listeners (local names or pids given to ``start_link``) receive :class:`RegistryRegister` and
:class:`RegistryUnregister` for explicit ``register``/``unregister`` calls, never for deaths:
a listener that cares about crashes monitors the registrants.

**Where it differs from Elixir.**

* Cleanup after a registrant dies is *synchronous*: its keys are gone by the time anyone can
  observe its death (an exit hook of the dying process removes them). Elixir's cleanup is
  asynchronous and a lookup may briefly return a dead pid; code written for Elixir's weaker
  contract works unchanged.
* One partition and no ``partitions:``/``{:duplicate, :key}`` options: partitions buy
  parallelism, which one event loop does not have. No ``meta``/``put_meta``.
* ``match``/``select`` take Python predicates instead of match specs.
* ``register``'s conflict is ``Error(KeyTaken(pid))``, Elixir's
  ``{:error, {:already_registered, pid}}``; ``update_value``'s ``:error`` is ``None``.
* Listener events are plain sends to a name or pid; an unknown listener name drops the event
  (Elixir's ``send`` to an unregistered name raises in the registrant). As in Elixir,
  ``unregister`` notifies listeners even when the caller held no entry for the key.
* Elixir links a registrant to a *partition* process, never the process you linked to when
  starting the registry, so its unlink on the last ``unregister`` cannot cut your own link.
  Here the registry is one process; to keep that guarantee, a process that was already linked
  to the registry before its first registration (typically the one that started it) stays
  linked after its last ``unregister``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import msgspec

from soundforge.runtime.child_spec import ChildSpec
from soundforge.runtime.errors import ActorError, InvalidSpec, NotInProcess
from soundforge.runtime.exit import ExitReason
from soundforge.runtime.gen_server import GenServer, Init, NoReply, ViaName, start_server
from soundforge.runtime.process import Exit, Pid, Process, current_node, current_process
from soundforge.runtime.results import Error, Ok, StartResult

__all__ = [
    "KeyTaken",
    "Keys",
    "Registry",
    "RegistryError",
    "RegistryEvent",
    "RegistryRegister",
    "RegistryUnregister",
    "UnknownRegistry",
    "Via",
    "count",
    "dispatch",
    "keys",
    "lookup",
    "match",
    "register",
    "select",
    "unregister",
    "update_value",
    "values",
]

Entry = tuple[Pid, Any]


class Keys(enum.Enum):
    """Whether a key has one owner (``:unique``) or many entries (``:duplicate``)."""

    UNIQUE = "unique"
    DUPLICATE = "duplicate"


# -- typed results, events and errors ------------------------------------------------------


class KeyTaken(msgspec.Struct, frozen=True):
    """``{already_registered, Pid}``: the unique key is held by ``pid`` (maybe the caller)."""

    pid: Pid


class RegistryRegister(msgspec.Struct, frozen=True, tag=True):
    """To listeners: ``pid`` registered ``key`` with ``value`` (``{:register, ...}``)."""

    registry: Any
    key: Any
    pid: Pid
    value: Any


class RegistryUnregister(msgspec.Struct, frozen=True, tag=True):
    """To listeners: ``pid`` called ``unregister(registry, key)`` (``{:unregister, ...}``)."""

    registry: Any
    key: Any
    pid: Pid


RegistryEvent = RegistryRegister | RegistryUnregister


class RegistryError(ActorError):
    """A registry was used in a way its kind of keys does not allow."""


class UnknownRegistry(RegistryError):
    """No registry (or pubsub) is running under the given name."""

    def __init__(self, name: object, kind: str = "registry") -> None:
        super().__init__(
            f"no {kind} is running as {name!r}; start it first "
            f"(e.g. as a child of the application's supervisor)"
        )
        self.name = name


# -- the table ------------------------------------------------------------------------------


class _Table(abc.ABC):
    """The ETS-like data of one registry: entries by key, keys by process, and bookkeeping.

    Subclasses store entries; this base keeps what is common: the per-process key index
    (``_by_pid``, insertion-ordered dicts used as sets), links to the owning registry
    process, one exit hook per registrant, and the entry count.
    """

    __slots__ = ("_by_pid", "_hooked", "_prelinked", "listeners", "name", "owner", "size")

    unique: ClassVar[bool]

    def __init__(self, name: Hashable, owner: Process, listeners: tuple[Hashable, ...]) -> None:
        self.name = name
        self.owner = owner
        self.listeners = listeners
        self.size = 0
        self._by_pid: dict[Process, dict[Any, None]] = {}
        # Processes that carry our exit hook (one hook per process, however often it
        # registers and unregisters) and those that were linked to the owner before.
        self._hooked: set[Process] = set()
        self._prelinked: set[Process] = set()

    # -- bookkeeping -------------------------------------------------------------------

    def _track(self, proc: Process) -> dict[Any, None]:
        """The key set of ``proc``; on its first key, link it to the owner and hook its death."""
        keys = self._by_pid.get(proc)
        if keys is None:
            keys = self._by_pid[proc] = {}
            owner = self.owner
            if proc is not owner:
                if proc.links is not None and owner in proc.links:
                    self._prelinked.add(proc)
                else:
                    proc.add_link(owner)
            if proc not in self._hooked:
                self._hooked.add(proc)
                proc.add_exit_hook(self._on_exit)
        return keys

    def _untrack(self, proc: Process) -> None:
        """``proc`` unregistered its last key: unlink it (unless it was linked before)."""
        del self._by_pid[proc]
        if proc in self._prelinked:
            self._prelinked.discard(proc)
        elif proc is not self.owner:
            proc.remove_link(self.owner)

    def _on_exit(self, proc: Process, reason: ExitReason) -> None:
        # Runs synchronously inside the dying process's ``die``: its links are still intact
        # and the runtime removes them itself, so only the entries are dropped here.
        self._hooked.discard(proc)
        self._prelinked.discard(proc)
        keys = self._by_pid.pop(proc, None)
        if keys:
            self._drop(proc, keys)

    def close(self) -> None:
        """The owner died: the table is gone (hooks left on live registrants become no-ops)."""
        self.size = 0
        self._by_pid.clear()
        self._hooked.clear()
        self._prelinked.clear()
        self._clear()

    def keys_of(self, proc: Process) -> list[Any]:
        keys = self._by_pid.get(proc)
        return list(keys) if keys else []

    def process_count(self) -> int:
        """How many processes hold at least one entry."""
        return len(self._by_pid)

    # -- storage (per kind) -------------------------------------------------------------

    @abc.abstractmethod
    def register(self, proc: Process, key: Any, value: Any) -> Pid | None:
        """Add an entry for ``proc``; return the owner's pid if a unique key is taken."""
        ...

    @abc.abstractmethod
    def unregister(self, proc: Process, key: Any) -> None:
        """Remove every entry of ``proc`` under ``key``."""
        ...

    @abc.abstractmethod
    def lookup(self, key: Any) -> list[Entry]: ...

    @abc.abstractmethod
    def values(self, key: Any, proc: Process) -> list[Any]: ...

    @abc.abstractmethod
    def items(self) -> Iterator[tuple[Any, Pid, Any]]:
        """Every ``(key, pid, value)``, lazily: take a snapshot before calling out."""
        ...

    @abc.abstractmethod
    def send_to(self, key: Any, message: Any, exclude: Process | None) -> None:
        """Deliver ``message`` once per entry under ``key``, skipping ``exclude``'s entries."""
        ...

    @abc.abstractmethod
    def _drop(self, proc: Process, keys: dict[Any, None]) -> None: ...

    @abc.abstractmethod
    def _clear(self) -> None: ...


class _UniqueTable(_Table):
    __slots__ = ("_entries",)

    unique = True

    def __init__(self, name: Hashable, owner: Process, listeners: tuple[Hashable, ...]) -> None:
        super().__init__(name, owner, listeners)
        self._entries: dict[Any, tuple[Process, Any]] = {}

    def register(self, proc: Process, key: Any, value: Any) -> Pid | None:
        current = self._entries.get(key)
        if current is not None:
            return current[0].pid
        self._track(proc)[key] = None
        self._entries[key] = (proc, value)
        self.size += 1
        return None

    def unregister(self, proc: Process, key: Any) -> None:
        keys = self._by_pid.get(proc)
        if keys is None or key not in keys:
            return
        del keys[key]
        del self._entries[key]
        self.size -= 1
        if not keys:
            self._untrack(proc)

    def lookup(self, key: Any) -> list[Entry]:
        current = self._entries.get(key)
        return [] if current is None else [(current[0].pid, current[1])]

    def values(self, key: Any, proc: Process) -> list[Any]:
        current = self._entries.get(key)
        return [current[1]] if current is not None and current[0] is proc else []

    def owner_of(self, key: Any) -> Process | None:
        current = self._entries.get(key)
        return None if current is None else current[0]

    def update(self, proc: Process, key: Any, fn: Callable[[Any], Any]) -> tuple[Any, Any] | None:
        current = self._entries.get(key)
        if current is None or current[0] is not proc:
            return None
        old = current[1]
        new = fn(old)
        # fn may have unregistered the key or killed the caller: only store if still ours.
        if self._entries.get(key) is current:
            self._entries[key] = (proc, new)
        return new, old

    def items(self) -> Iterator[tuple[Any, Pid, Any]]:
        for key, (proc, value) in self._entries.items():
            yield key, proc.pid, value

    def send_to(self, key: Any, message: Any, exclude: Process | None) -> None:
        current = self._entries.get(key)
        if current is not None and current[0] is not exclude:
            current[0].deliver(message)

    def _drop(self, proc: Process, keys: dict[Any, None]) -> None:
        entries = self._entries
        for key in keys:
            del entries[key]
        self.size -= len(keys)

    def _clear(self) -> None:
        self._entries.clear()


class _DuplicateTable(_Table):
    __slots__ = ("_entries",)

    unique = False

    def __init__(self, name: Hashable, owner: Process, listeners: tuple[Hashable, ...]) -> None:
        super().__init__(name, owner, listeners)
        # key -> registrant -> its values, in registration order. Per-registrant grouping
        # makes unregister and death cleanup O(keys of that process), whatever the fan-out.
        self._entries: dict[Any, dict[Process, list[Any]]] = {}

    def register(self, proc: Process, key: Any, value: Any) -> Pid | None:
        keys = self._track(proc)
        by_proc = self._entries.get(key)
        if by_proc is None:
            by_proc = self._entries[key] = {}
        values = by_proc.get(proc)
        if values is None:
            by_proc[proc] = [value]
            keys[key] = None
        else:
            values.append(value)
        self.size += 1
        return None

    def unregister(self, proc: Process, key: Any) -> None:
        keys = self._by_pid.get(proc)
        if keys is None or key not in keys:
            return
        del keys[key]
        self._remove(proc, key)
        if not keys:
            self._untrack(proc)

    def _remove(self, proc: Process, key: Any) -> None:
        by_proc = self._entries[key]
        self.size -= len(by_proc.pop(proc))
        if not by_proc:
            del self._entries[key]

    def keys_of(self, proc: Process) -> list[Any]:
        keys = self._by_pid.get(proc)
        if not keys:
            return []
        entries = self._entries
        return [key for key in keys for _ in entries[key][proc]]

    def lookup(self, key: Any) -> list[Entry]:
        by_proc = self._entries.get(key)
        if by_proc is None:
            return []
        return [(proc.pid, value) for proc, values in by_proc.items() for value in values]

    def values(self, key: Any, proc: Process) -> list[Any]:
        by_proc = self._entries.get(key)
        values = by_proc.get(proc) if by_proc is not None else None
        return list(values) if values else []

    def items(self) -> Iterator[tuple[Any, Pid, Any]]:
        for key, by_proc in self._entries.items():
            for proc, values in by_proc.items():
                for value in values:
                    yield key, proc.pid, value

    def send_to(self, key: Any, message: Any, exclude: Process | None) -> None:
        by_proc = self._entries.get(key)
        if by_proc is None:
            return
        # Process.deliver only appends to a mailbox and wakes a future: nothing here can
        # re-enter the table, so iterating the live dict is safe.
        for proc, values in by_proc.items():
            if proc is not exclude:
                for _ in values:
                    proc.deliver(message)

    def _drop(self, proc: Process, keys: dict[Any, None]) -> None:
        for key in keys:
            self._remove(proc, key)

    def _clear(self) -> None:
        self._entries.clear()


# -- the registry process --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    keys: Keys
    name: Hashable
    listeners: tuple[Hashable, ...]


class Registry(GenServer[None]):
    """The process that owns a registry's table (Elixir's registry and its partition).

    Start it under a supervisor, or directly::

        await Registry.start_link(keys=Keys.DUPLICATE, name="topics")

    It traps exits: a registrant's death is an ``Exit`` it ignores (the entries are already
    gone); an exit from its parent stops it, and its table with it.
    """

    kind: ClassVar[str] = "registry"
    table: _Table

    # Elixir's shape, ``Registry.start_link(keys: ..., name: ...)``, not GenServer's
    # ``(arg, name=)``: the override is deliberately incompatible.
    @classmethod
    async def start_link(  # type: ignore[override]
        cls, *, keys: Keys, name: Hashable, listeners: Sequence[Hashable] = ()
    ) -> StartResult:
        """Start a registry named ``name`` (a local name), linked to the caller."""
        return await cls._start_registry(cls(), _Options(keys, name, tuple(listeners)), link=True)

    @classmethod
    async def start(  # type: ignore[override]
        cls, *, keys: Keys, name: Hashable, listeners: Sequence[Hashable] = ()
    ) -> StartResult:
        """Start a registry not linked to the caller."""
        return await cls._start_registry(cls(), _Options(keys, name, tuple(listeners)), link=False)

    @classmethod
    def child_spec(cls, arg: Any = None, **overrides: Any) -> ChildSpec:
        """A child spec; ``arg`` maps ``start_link``'s keywords (``{"keys": ..., "name": ...}``).

        The child id is the registry's name, as in Elixir.
        """
        if not isinstance(arg, Mapping) or "name" not in arg:
            raise InvalidSpec(
                ("invalid_child_spec", (cls, arg)),
                f"{cls.__name__}.child_spec needs a mapping of start_link's keywords with a "
                f"'name', e.g. (Registry, {{'keys': Keys.UNIQUE, 'name': 'sessions'}}); "
                f"got {arg!r}",
            )
        spec = ChildSpec(id=arg["name"], start=cls._start_with, args=(dict(arg),))
        return spec.with_(**overrides) if overrides else spec

    @classmethod
    async def _start_with(cls, options: Mapping[str, Any]) -> StartResult:
        return await cls.start_link(**options)

    @classmethod
    async def _start_registry(
        cls, server: Registry, options: _Options, *, link: bool
    ) -> StartResult:
        if not isinstance(options.keys, Keys):
            raise RegistryError(f"keys must be Keys.UNIQUE or Keys.DUPLICATE, not {options.keys!r}")
        if options.name is None or isinstance(options.name, Pid | ViaName):
            raise RegistryError(
                f"a {cls.kind} needs a local name (a string or other hashable value), "
                f"not {options.name!r}"
            )
        return await start_server(server, options, name=options.name, link=link)

    @classmethod
    def _find(cls, registry: Hashable) -> Self:
        """The running registry behind a name (or pid); raises :class:`UnknownRegistry`."""
        proc = registry._proc if type(registry) is Pid else current_node().names.get(registry)
        server = proc.behaviour if proc is not None else None
        if not isinstance(server, cls):
            raise cls._unknown(registry)
        return server

    @classmethod
    def _unknown(cls, registry: Hashable) -> Exception:
        return UnknownRegistry(registry, cls.kind)

    # -- callbacks ------------------------------------------------------------------------

    def init(self, options: _Options) -> Init[None]:
        # A sync init runs inside start_link before anyone can reach the name, so the
        # table exists by the time a registrant looks for it.
        proc = current_process()
        assert proc is not None, "init runs as the new process"
        proc.trap_exit = True
        table_cls = _UniqueTable if options.keys is Keys.UNIQUE else _DuplicateTable
        self.table = table_cls(options.name, proc, options.listeners)
        proc.add_exit_hook(_close_table)
        return Init(None)

    def handle_info(self, msg: Any, state: None) -> NoReply[None]:
        if type(msg) is Exit:
            # A registrant died (its entries went with it, synchronously) or unlinked
            # itself in the meantime: nothing to do, and never a reason to stop.
            return NoReply(state)
        result: NoReply[None] = super().handle_info(msg, state)
        return result

    def format_status(self, state: None) -> str:
        table = self.table
        kind = "unique" if table.unique else "duplicate"
        return f"{kind} keys, {table.size} entries, {table.process_count()} processes"


def _close_table(proc: Process, reason: ExitReason) -> None:
    # The owner's exit hook: its table dies with it, before links and monitors hear of it.
    server = proc.behaviour
    if isinstance(server, Registry):
        server.table.close()


# -- via names ------------------------------------------------------------------------------


class Via(msgspec.Struct, frozen=True):
    """A GenServer name kept in a unique registry (``{:via, Registry, {registry, key, value}}``).

    ``start_link(name=Via(reg, key))`` registers the *new* process under ``key``; a taken key
    makes the start return ``Error(AlreadyStarted(owner))``; the key is released when the
    server dies (also when its ``init`` fails). ``call``/``cast``/``whereis`` resolve it.
    Duplicate registries cannot name processes and raise :class:`RegistryError`.
    """

    registry: Hashable
    key: Any
    value: Any = None

    def register(self, proc: Process) -> Pid | None:
        table = self._table()
        owner = table.register(proc, self.key, self.value)
        if owner is None:
            _notify(table, RegistryRegister(table.name, self.key, proc.pid, self.value))
        return owner

    def whereis(self) -> Process | None:
        return self._table().owner_of(self.key)

    def send(self, message: Any) -> None:
        """Send ``message`` to the owner of the key, if any (the via module's ``send``)."""
        proc = self.whereis()
        if proc is not None:
            proc.deliver(message)

    def _table(self) -> _UniqueTable:
        table = Registry._find(self.registry).table
        if not isinstance(table, _UniqueTable):
            raise RegistryError(
                f"Via names need a unique registry, but {self.registry!r} has duplicate keys; "
                f"start one with Registry.start_link(keys=Keys.UNIQUE, ...)"
            )
        return table


# -- the API (called by the registrant or any reader) ---------------------------------------


def register(registry: Hashable, key: Any, value: Any = None) -> Ok | Error:
    """Register the *calling* process under ``key``; it becomes linked to the registry.

    Returns ``Ok(registry_pid)``, or ``Error(KeyTaken(owner))`` when a unique key is held
    (by another process or by the caller itself). Duplicate registries always succeed.
    """
    proc = _caller("register")
    table = Registry._find(registry).table
    owner = table.register(proc, key, value)
    if owner is not None:
        return Error(KeyTaken(owner))
    _notify(table, RegistryRegister(table.name, key, proc.pid, value))
    return Ok(table.owner.pid)


def unregister(registry: Hashable, key: Any) -> None:
    """Remove all of the caller's entries under ``key``; unlink it once it holds no key.

    Always succeeds; listeners are told even if the caller held no entry (as in Elixir).
    """
    proc = _caller("unregister")
    table = Registry._find(registry).table
    table.unregister(proc, key)
    _notify(table, RegistryUnregister(table.name, key, proc.pid))


def lookup(registry: Hashable, key: Any) -> list[Entry]:
    """The ``(pid, value)`` entries under ``key`` (empty if none)."""
    return Registry._find(registry).table.lookup(key)


def keys(registry: Hashable, pid: Pid) -> list[Any]:
    """The keys ``pid`` holds; a key registered twice in a duplicate registry appears twice."""
    proc = pid._proc
    return [] if proc is None else Registry._find(registry).table.keys_of(proc)


def values(registry: Hashable, key: Any, pid: Pid) -> list[Any]:
    """The values ``pid`` registered under ``key``."""
    proc = pid._proc
    return [] if proc is None else Registry._find(registry).table.values(key, proc)


def count(registry: Hashable) -> int:
    """How many entries the registry holds (O(1))."""
    return Registry._find(registry).table.size


def match(registry: Hashable, key: Any, predicate: Callable[[Any], bool]) -> list[Entry]:
    """The entries under ``key`` whose value satisfies ``predicate`` (Elixir's match pattern)."""
    return [entry for entry in lookup(registry, key) if predicate(entry[1])]


def select(
    registry: Hashable, predicate: Callable[[Any, Pid, Any], bool] | None = None
) -> list[tuple[Any, Pid, Any]]:
    """Every ``(key, pid, value)`` satisfying ``predicate`` (all of them without one); O(size)."""
    items = list(Registry._find(registry).table.items())  # predicates may change the table
    if predicate is None:
        return items
    return [item for item in items if predicate(*item)]


def dispatch(registry: Hashable, key: Any, fn: Callable[[list[Entry]], object]) -> None:
    """Call ``fn(entries)`` in the caller with the entries under ``key``; not at all if none."""
    entries = lookup(registry, key)
    if entries:
        fn(entries)


def update_value(registry: Hashable, key: Any, fn: Callable[[Any], Any]) -> tuple[Any, Any] | None:
    """Replace the value of the caller's own unique ``key`` with ``fn(old)``.

    Returns ``(new, old)``, or ``None`` when the caller does not hold ``key``. Duplicate
    registries raise :class:`RegistryError`, as in Elixir.
    """
    proc = _caller("update_value")
    table = Registry._find(registry).table
    if not isinstance(table, _UniqueTable):
        raise RegistryError(
            f"update_value needs a unique registry; {registry!r} has duplicate keys "
            f"(unregister and register again instead)"
        )
    return table.update(proc, key, fn)


def _caller(operation: str) -> Process:
    proc = current_process()
    if proc is None:
        raise NotInProcess(
            f"{operation} acts for the calling process; call it from inside a process"
        )
    if not proc.alive:
        # Only an attached shell can still run after its death; registering it would leak.
        raise NotInProcess(f"{operation}: the calling process {proc.pid!r} has already exited")
    return proc


def _notify(table: _Table, event: RegistryEvent) -> None:
    if not table.listeners:
        return
    names = table.owner.node.names
    for listener in table.listeners:
        proc = listener._proc if type(listener) is Pid else names.get(listener)
        if proc is not None:
            proc.deliver(event)
