"""The audio commands as a user runs them: ``separate``, ``analyze``, ``users``, ``import``.

Each is a real ``soundforge`` subprocess with its own data directory; ``import --wait`` runs
the whole pipeline on the embedded PostgreSQL it starts for itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded_pg import scratch_data_dir
from tests.jobs.conftest import write_song

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

CLI = [sys.executable, "-m", "soundforge"]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with scratch_data_dir() as path:
        yield path


def run(
    *args: str, data: Path, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOUNDFORGE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, input=stdin
    )


def test_separate_lays_stems_out_like_demucs(data_dir: Path, tmp_path: Path) -> None:
    song = write_song(tmp_path / "Groove.wav", seconds=6.0)
    out = tmp_path / "out"
    result = run("separate", str(song), "-o", str(out), "--format", "flac", data=data_dir)
    assert result.returncode == 0, result.stderr
    folder = out / "spleeter-dsp" / "Groove"
    assert sorted(p.name for p in folder.iterdir()) == [
        "bass.flac",
        "drums.flac",
        "other.flac",
        "vocals.flac",
    ]
    assert sorted(result.stdout.split()) == sorted(str(p) for p in folder.iterdir())


def test_separate_says_what_is_wrong_with_a_bad_file(data_dir: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"RIFF" + b"\0" * 10)
    result = run("separate", str(bogus), "-o", str(tmp_path / "out"), data=data_dir)
    assert result.returncode == 1
    assert "bogus.wav" in result.stderr and "Traceback" not in result.stderr


def test_analyze_prints_the_analysis_document(data_dir: Path, tmp_path: Path) -> None:
    song = write_song(tmp_path / "Groove.wav", seconds=8.0, bpm=128.0)
    result = run("analyze", str(song), "--json", data=data_dir)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["duration_ms"] == 8000
    assert abs(document["tempo"] - 128.0) < 128.0 * 0.04 or abs(document["tempo"] - 64) < 3
    assert document["camelot"] and document["key"]


def test_import_wait_runs_the_whole_pipeline(data_dir: Path, tmp_path: Path) -> None:
    song = write_song(tmp_path / "Night Drive.wav", seconds=6.0)
    nobody = run("import", str(song), data=data_dir)
    assert nobody.returncode != 0 and "soundforge users create" in nobody.stderr
    made = run("users", "create", "dj@example.com", data=data_dir, stdin="a long password\n")
    assert made.returncode == 0, made.stderr
    assert "created admin dj@example.com" in made.stdout
    done = run("import", str(song), "--wait", data=data_dir)
    assert done.returncode == 0, done.stderr
    (track_id,) = done.stdout.split()
    stems = data_dir / "tracks" / track_id / "stems" / "spleeter-dsp"
    assert sorted(p.name for p in stems.iterdir()) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    assert (data_dir / "tracks" / track_id / "analysis.json").is_file()
    again = run("import", str(song), data=data_dir)
    assert again.returncode == 0 and again.stdout == ""
    assert "already in the library" in again.stderr
