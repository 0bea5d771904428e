"""Streaming a zip of a track's stems: names, ownership, and bytes that match."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from soundforge.music import exports, library
from tests.music.conftest import Users, add_track, separated


async def test_stems_zip_entries_name_and_check_the_files(
    db_pool: Any, users: Users, tmp_path: Path
) -> None:
    track_id = await add_track(db_pool, users.alice, "Thunder: Live?", artists=["AC/DC"])
    await separated(db_pool, track_id, tmp_path, model="htdemucs")
    await separated(db_pool, track_id, tmp_path, model="htdemucs_6s", names=("vocals", "piano"))

    newest = await exports.stems_zip_entries(db_pool, tmp_path, users.alice, track_id)
    assert [name for name, _ in newest] == [
        "AC-DC - Thunder - Live/piano.wav",
        "AC-DC - Thunder - Live/vocals.wav",
    ]
    chosen = await exports.stems_zip_entries(
        db_pool, tmp_path, users.alice, track_id, model="htdemucs"
    )
    assert sorted(name.split("/")[1] for name, _ in chosen) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    assert all(path.is_file() and path.is_relative_to(tmp_path) for _, path in chosen)

    with pytest.raises(library.TrackNotFound):
        await exports.stems_zip_entries(db_pool, tmp_path, users.bob, track_id)
    with pytest.raises(exports.NothingToExport, match="no mdx stems"):
        await exports.stems_zip_entries(db_pool, tmp_path, users.alice, track_id, model="mdx")
    (tmp_path / "tracks" / track_id / "stems/htdemucs/bass.wav").unlink()
    with pytest.raises(library.StemFileMissing):  # before a single byte is streamed
        await exports.stems_zip_entries(db_pool, tmp_path, users.alice, track_id, model="htdemucs")


def test_iter_zip_streams_a_valid_archive_in_small_chunks(tmp_path: Path) -> None:
    sizes = {"vocals.wav": 300_000, "drums.wav": 65_536, "bass.wav": 1, "empty.wav": 0}
    entries = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        entries.append((f"Artist - Title/{name}", path))

    chunks = list(exports.iter_zip(entries, chunk_size=16_384))
    assert max(len(c) for c in chunks) <= 16_384 + 1024  # a chunk and a header at most
    assert all(chunks)
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [name for name, _ in entries]
        for name, path in entries:
            info = archive.getinfo(name)
            assert info.compress_type == zipfile.ZIP_STORED
            assert archive.read(name) == path.read_bytes()


def test_iter_zip_of_nothing_is_an_empty_archive() -> None:
    with zipfile.ZipFile(io.BytesIO(b"".join(exports.iter_zip([])))) as archive:
        assert archive.namelist() == []


def test_iter_zip_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    path.write_bytes(b"\0" * 1_000_000)
    stream = exports.iter_zip([("big.wav", path)], chunk_size=1000)
    first = next(stream)
    assert len(first) < 2000  # the header and one chunk, not the file
    stream.close()  # a client that goes away mid-download leaves nothing open


def test_iter_zip_writes_zip64_past_the_limit(tmp_path: Path, monkeypatch: Any) -> None:
    # 4 GiB files take minutes to stream; lower the limit instead, which takes zipfile down
    # the very same ZIP64 paths (the entries' extra fields and the end records).
    path = tmp_path / "long.wav"
    path.write_bytes(os.urandom(50_000))
    with monkeypatch.context() as patched:
        patched.setattr(zipfile, "ZIP64_LIMIT", 10_000)
        data = b"".join(exports.iter_zip([("a/long.wav", path), ("a/again.wav", path)]))
    assert b"PK\x06\x06" in data  # the ZIP64 end of central directory record
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("a/again.wav") == path.read_bytes()
        assert archive.testzip() is None
