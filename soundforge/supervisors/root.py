"""The root of SoundForge's supervision tree (DESIGN.md: ``soundforge.Application``).

    Root (one_for_one)
    ├── LoopMonitor      warns of any stall of the event loop, with the culprit's stack
    ├── Registry         names → actors (unique keys)
    ├── Repo             asyncpg pool; the embedded PostgreSQL when no URL is configured
    ├── Migrator         applies pending migrations, then IGNORE (Ecto.Migrator)
    ├── ModelRegistry    LLM model capabilities and provider health (docs/llm.md)
    ├── PubSub           local fan-out, bridged to other nodes by ...
    ├── PgPubSubBridge   ... LISTEN/NOTIFY on the shared database
    ├── TaskSupervisor   short async tasks
    ├── PortSupervisor   DynamicSupervisor of port actors (separator, analyzer, downloader)
    ├── downloader, separator, analyzer pools   warm audio programs, one pool per queue the
    │                    node works on (download, processing, analysis), sized by its limit
    ├── Queues           notifier, lifeline, one producer per queue, pruner, cron
    ├── Observer         samples the tree for the admin console (server nodes)
    ├── Studio           mixer sessions, MIDI devices, OSC server (server nodes)
    └── Endpoint         Quart on Hypercorn: pages, JSON API, WebSockets (server nodes)

Children start in this order, each after the ones it depends on. A ``worker`` node runs the
same tree with only the queues it was given, and no observer, studio or endpoint.
"""

from __future__ import annotations

import os
from typing import Any, Final

import msgspec

from soundforge.accounts.events import ACCOUNT_EVENT_TYPES
from soundforge.actors import repo
from soundforge.actors.migrator import Migrator
from soundforge.actors.observer import Observer, ObserverOptions
from soundforge.actors.pg_pubsub import PgPubSubAdapter, PgPubSubBridge
from soundforge.actors.port_pool import pool_specs
from soundforge.actors.repo import Repo, RepoOptions
from soundforge.config import Settings
from soundforge.jobs.context import PipelineContext, install
from soundforge.jobs.llm_health import ProviderHealthCheck
from soundforge.jobs.pipeline import PIPELINE_WORKERS
from soundforge.llm import LlmOptions, ModelRegistry
from soundforge.music.daw import RENDER_EVENT_TYPES
from soundforge.music.events import EVENT_TYPES
from soundforge.queue import DEFAULT_QUEUES, QueueConfig, Queues
from soundforge.queue.crontab import CronEntry
from soundforge.runtime.child_spec import ChildSpec, Strategy
from soundforge.runtime.dynamic_supervisor import DynamicSupervisor
from soundforge.runtime.loop_monitor import LoopMonitor
from soundforge.runtime.pubsub import PubSub
from soundforge.runtime.registry import Keys, Registry
from soundforge.runtime.supervisor import Supervisor, SupervisorSpec
from soundforge.runtime.task import TaskSupervisor
from soundforge.studio import Studio, StudioOptions
from soundforge.studio.midi import MidiDevices, MidiOptions
from soundforge.studio.mixer_state import MixerOptions
from soundforge.studio.osc import OscOptions, OscServer

__all__ = [
    "NAMES",
    "PUBSUB_TYPES",
    "QUEUE_PROGRAMS",
    "Names",
    "Root",
    "RootOptions",
    "program_environment",
]


class Names(msgspec.Struct, frozen=True):
    """The registered names of the tree's well-known processes."""

    registry: str = "soundforge.registry"
    repo: str = repo.DEFAULT_NAME
    pubsub: str = "soundforge.pubsub"
    tasks: str = "soundforge.tasks"
    ports: str = "soundforge.ports"


NAMES: Final = Names()

#: The message types that may cross nodes through the PubSub bridge (besides plain JSON
#: values). Every node must run with the same list.
PUBSUB_TYPES: Final[tuple[type[msgspec.Struct], ...]] = (
    *EVENT_TYPES,
    *ACCOUNT_EVENT_TYPES,
    *RENDER_EVENT_TYPES,
)

#: What cron inserts, on the node that holds cron's leadership: the LLM providers' health
#: (soundforge/jobs/llm_health.py) every five minutes.
CRONTAB: Final = (CronEntry("*/5 * * * *", ProviderHealthCheck),)

#: The audio program each pipeline queue's jobs run in.
QUEUE_PROGRAMS: Final = {
    "download": "downloader",
    "processing": "separator",
    "analysis": "analyzer",
}


class RootOptions(msgspec.Struct, frozen=True):
    """What a node runs: its settings, and the queues it works on (name → local limit)."""

    settings: Settings
    queues: dict[str, int] = msgspec.field(default_factory=lambda: dict(DEFAULT_QUEUES))
    #: The job workers this node can run.
    workers: tuple[type, ...] = (*PIPELINE_WORKERS, ProviderHealthCheck)
    #: Audio program pools (program → size); default: one per pipeline queue, sized by its
    #: limit. A CLI import without ``--wait`` runs a downloader (to resolve links) and no queue.
    ports: dict[str, int] | None = None
    #: Serve the web endpoint (``soundforge serve``); worker nodes and CLI trees do not.
    web: bool = False


def _repo_dsn() -> str:
    try:
        return repo.dsn(NAMES.repo)
    except repo.DatabaseUnavailable as error:
        raise OSError(str(error)) from error  # the bridge retries on OSError with backoff


def _repo_pool() -> Any:
    try:
        return repo.pool(NAMES.repo)
    except repo.DatabaseUnavailable as error:
        raise OSError(str(error)) from error  # the queue's actors retry on OSError


#: The queue holds two connections for good (LISTEN, cron's leadership lock) and uses two per
#: queue at a time; the rest serves the product's queries.
POOL_MAX: Final = 20


class Root(Supervisor):
    """``soundforge.Application``: the top supervisor, one_for_one, over a node's settings."""

    def init(self, arg: Any) -> SupervisorSpec:
        options = arg if isinstance(arg, RootOptions) else RootOptions(arg)
        settings = options.settings
        adapter = PgPubSubAdapter(_repo_dsn, types=PUBSUB_TYPES, node_id=settings.node_name)
        queues = QueueConfig(
            queues=options.queues,
            workers=options.workers,
            node_name=settings.node_name,
            crontab=CRONTAB if ProviderHealthCheck in options.workers else (),
        )
        install(PipelineContext(settings, NAMES.repo, NAMES.pubsub))
        sizes = options.ports
        if sizes is None:
            sizes = {QUEUE_PROGRAMS[q]: n for q, n in options.queues.items() if q in QUEUE_PROGRAMS}
        pools = pool_specs(sizes, program_environment(settings))
        return SupervisorSpec(
            [
                LoopMonitor.child_spec(),  # first: it watches every child's time on the loop
                Registry.child_spec({"keys": Keys.UNIQUE, "name": NAMES.registry}),
                Repo.child_spec(RepoOptions.from_settings(settings, pool_max=POOL_MAX)),
                Migrator.child_spec(),
                ModelRegistry.child_spec(LlmOptions.from_settings(settings, repo=NAMES.repo)),
                PubSub.child_spec({"name": NAMES.pubsub, "adapter": adapter}),
                PgPubSubBridge.child_spec(adapter),
                TaskSupervisor.child_spec({"name": NAMES.tasks}, id="TaskSupervisor"),
                DynamicSupervisor.child_spec({"name": NAMES.ports}, id="PortSupervisor"),
                *pools,
                Queues.child_spec(queues, _repo_pool),
                *(
                    [_observer_spec(), _studio_spec(settings), _endpoint_spec(settings)]
                    if options.web
                    else []
                ),
            ],
            strategy=Strategy.ONE_FOR_ONE,
        )


def _observer_spec() -> ChildSpec:
    return Observer.spec(ObserverOptions(NAMES.repo, NAMES.pubsub))


def _studio_spec(settings: Settings) -> ChildSpec:
    mixer = MixerOptions(NAMES.repo, NAMES.pubsub, NAMES.registry)
    return Studio.spec(StudioOptions(mixer, surfaces=_surface_specs(settings)))


def _surface_specs(settings: Settings) -> tuple[Any, ...]:
    """The control surfaces under the studio: MIDI controllers and the OSC server."""
    midi = MidiOptions(repo=NAMES.repo, pubsub=NAMES.pubsub, enabled=settings.midi)
    return (
        MidiDevices.child_spec(midi),
        OscServer.child_spec(OscOptions.from_settings(settings, NAMES.pubsub)),
    )


def _endpoint_spec(settings: Settings) -> Any:
    from soundforge.web import Endpoint, EndpointOptions  # Quart only where it is served

    options = EndpointOptions(
        settings, NAMES.repo, NAMES.pubsub, host=settings.host, port=settings.port
    )
    return Endpoint.child_spec(options)


def program_environment(settings: Settings) -> dict[str, str | None]:
    """What the audio programs get in their environment besides the server's own.

    numba compiles librosa's kernels once and caches them on disk; a writable cache under the
    data directory means a new analyzer does not pay the compile again. An operator's own
    ``NUMBA_CACHE_DIR`` wins (the test suite shares one across its throwaway data dirs).
    """
    numba_cache = os.environ.get("NUMBA_CACHE_DIR") or str(settings.data_dir / "cache" / "numba")
    return {"SOUNDFORGE_DATA_DIR": str(settings.data_dir), "NUMBA_CACHE_DIR": numba_cache}
