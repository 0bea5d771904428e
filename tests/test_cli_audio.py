"""The audio commands as a user runs them: ``separate``, ``analyze``, ``users``, ``import``.

Each is a real ``soundforge`` subprocess with its own data directory; ``import --wait`` runs
the whole pipeline on the embedded PostgreSQL it starts for itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
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
    token = run("tokens", "create", "dj@example.com", "--name", "laptop", data=data_dir)
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("sf_") and len(token.stdout.split()) == 1
    assert "'laptop'" in token.stderr and "shown only once" in token.stderr
    stranger = run("tokens", "create", "nobody@example.com", data=data_dir)
    assert stranger.returncode == 67 and "no account for nobody@example.com" in stranger.stderr
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

    out = tmp_path / "exports"
    zipped = run("export", track_id, "-o", str(out), data=data_dir)
    assert zipped.returncode == 0, zipped.stderr
    with zipfile.ZipFile(zipped.stdout.strip()) as archive:
        assert sorted(archive.namelist()) == [
            f"Night Drive ({stem}).wav" for stem in ("bass", "drums", "other", "vocals")
        ]
    vocals = run("export", track_id, "--stem", "vocals", "-o", str(out), data=data_dir)
    assert Path(vocals.stdout.strip()) == out / "Night Drive (vocals).wav"
    document = run("export", track_id, "--analysis", "-o", str(out), data=data_dir)
    assert json.loads(Path(document.stdout.strip()).read_text())["duration_ms"] == 6000
    missing = run("export", track_id, "--stem", "guitar", "-o", str(out), data=data_dir)
    assert missing.returncode == 66 and "has no guitar stem" in missing.stderr
