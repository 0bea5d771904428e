"""What a pipeline job needs from its node: settings, and the names of the Repo and PubSub.

It hangs off the running node (``Node.extensions``), installed by the root supervisor, never
in a module global, so two nodes in one test process each have their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec

from soundforge.config import Settings
from soundforge.runtime.process import current_node

__all__ = ["EXTENSION", "PipelineContext", "install", "pipeline_context"]

EXTENSION: Final = "soundforge.pipeline"


class PipelineContext(msgspec.Struct, frozen=True):
    settings: Settings
    repo: str
    pubsub: str

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def track_dir(self, track_id: str) -> Path:
        return self.settings.data_dir / "tracks" / track_id

    def relative(self, path: str | Path) -> str:
        """A path under the data directory as the database stores it."""
        return Path(path).resolve().relative_to(self.settings.data_dir.resolve()).as_posix()


def install(context: PipelineContext) -> None:
    """Make ``context`` this node's pipeline context (called in a process of the node)."""
    current_node().extensions[EXTENSION] = context


def pipeline_context() -> PipelineContext:
    context = current_node().extensions.get(EXTENSION)
    if not isinstance(context, PipelineContext):
        raise RuntimeError("this node runs no pipeline: the root supervisor installs it")
    return context
