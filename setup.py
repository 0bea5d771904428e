"""Build hook: ship the database migrations inside the wheel.

The one source of truth for migrations is ``db/migrations/NNNN_name.sql`` (DESIGN.md's
layout). It sits outside the package, so that it reads like the Phoenix/Ecto original and
each migration is reviewed as plain SQL. At build time this copies the files into the built
package as ``soundforge/storage/sql/``, where an installed ``soundforge`` finds them
(``soundforge.storage.migrations.default_directory``). A checkout or an editable install reads
``db/migrations`` directly, and the sdist carries it (MANIFEST.in). Everything else about the
build is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MIGRATIONS = Path(__file__).resolve().parent / "db" / "migrations"


class BuildPyWithMigrations(build_py):
    """``build_py`` plus a copy of ``db/migrations/*.sql`` into ``soundforge/storage/sql``."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "soundforge" / "storage" / "sql"
        if target.exists():
            shutil.rmtree(target)  # a migration deleted from the repo must not linger
        target.mkdir(parents=True)
        sql_files = sorted(MIGRATIONS.glob("*.sql"))
        if not sql_files:
            raise SystemExit(f"no migrations found in {MIGRATIONS}; cannot build soundforge")
        for path in sql_files:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithMigrations})
