"""Stored uploads: where a download job's upload lives, and removing it when it is done.

The web layer stores each received file as ``<data>/uploads/<uuid4>/<name>`` and imports it
as an ``Upload`` source; the download job copies it into the track. The folder goes once the
copy is in the track, when the file turned out a duplicate, or when its track is deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

__all__ = ["remove_upload", "upload_path"]


def upload_path(request: dict[str, Any]) -> str | None:
    """The stored upload a download job's request fetches, if it fetches one."""
    source = request.get("source") or {}
    path = source.get("path")
    return path if source.get("type") == "upload" and isinstance(path, str) else None


def remove_upload(data_dir: Path, path: str) -> None:
    """Delete a stored upload's folder (blocking). Only a folder directly under
    ``<data>/uploads`` goes: the path comes from a job's arguments, and nothing else of the
    data directory may go with it."""
    folder = Path(path).resolve().parent
    if folder.parent == (data_dir / "uploads").resolve():
        shutil.rmtree(folder, ignore_errors=True)
