"""soundforge.storage: where SoundForge keeps its data on disk and in PostgreSQL.

The embedded PostgreSQL cluster (``<data>/pg``) that a node runs when no
``SOUNDFORGE_DATABASE_URL`` is set lives here; the schema migrations join it. The actor that
owns the connection pool is :mod:`soundforge.actors.repo` (Ecto's Repo), not this package:
storage is plain code with no process of its own.
"""

from soundforge.storage.embedded_postgres import (
    ClusterBusy,
    DataDirUnreachable,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    PostgresNotInstalled,
    PostgresStartFailed,
    ServiceUserUnavailable,
    UnsafeSocketDir,
)

__all__ = [
    "ClusterBusy",
    "DataDirUnreachable",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "PostgresNotInstalled",
    "PostgresStartFailed",
    "ServiceUserUnavailable",
    "UnsafeSocketDir",
]
