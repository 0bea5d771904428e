"""Uploads and files on the server's disk: copied, never changed; bad files leave nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from soundforge.audio.errors import AudioTooLong, SourceNotFound, UnreadableAudio
from soundforge.audio.media import probe
from soundforge.audio.sources import (
    FetchRequest,
    LocalPath,
    SourceSettings,
    SourceTooLarge,
    Upload,
    fetch,
    resolve,
)
from soundforge.audio.sources._files import safe_name

pytestmark = pytest.mark.timeout(30)


def upload_of(sample: Path, tmp_path: Path, filename: str) -> Upload:
    """What the web layer hands over: its own temporary copy and the user's file name."""
    saved = tmp_path / "web-tmp" / "upload-7f3a"
    saved.parent.mkdir(exist_ok=True)
    shutil.copyfile(sample, saved)
    return Upload(path=str(saved), filename=filename)


@pytest.mark.parametrize(("kind", "ext"), [("wav", "wav"), ("mp3", "mp3"), ("m4a", "m4a")])
def test_uploads(
    samples: dict[str, Path], settings: SourceSettings, tmp_path: Path, kind: str, ext: str
) -> None:
    upload = upload_of(samples[kind], tmp_path, f"My Track.{kind}")
    before = Path(upload.path).read_bytes()
    result = fetch(FetchRequest(source=upload), tmp_path / "track", settings)
    assert Path(result.original_path) == tmp_path / "track" / f"source.{ext}"
    assert Path(result.original_path).read_bytes() == before
    assert result.sha256 == hashlib.sha256(before).hexdigest()
    assert Path(upload.path).read_bytes() == before  # the upload is still there, unchanged
    # Same filesystem: the upload was hard-linked, not copied.
    assert Path(result.original_path).stat().st_ino == Path(upload.path).stat().st_ino
    assert abs(result.duration_ms - 2000) < 100
    wav = probe(result.wav_path)
    assert (wav.channels, wav.sample_rate) == (2, 44100)
    assert sorted(os.listdir(tmp_path / "track")) == ["audio.wav", f"source.{ext}"]


def test_the_extension_comes_from_the_content(
    samples: dict[str, Path], settings: SourceSettings, tmp_path: Path
) -> None:
    upload = upload_of(samples["m4a"], tmp_path, "misnamed.mp3")
    result = fetch(FetchRequest(source=upload), tmp_path / "track", settings)
    assert Path(result.original_path).name == "source.m4a"
    assert "mp4" in result.format


def test_upload_metadata_from_tags_then_file_name(
    samples: dict[str, Path], settings: SourceSettings, tmp_path: Path
) -> None:
    tagged = upload_of(samples["m4a"], tmp_path, "whatever.m4a")
    [meta] = resolve(tagged, settings)
    assert (meta.title, meta.artists, meta.album) == (
        "Tagged Song",
        ("Tag Band", "Guest"),
        "Tag Album",
    )
    plain = Upload(path=str(samples["wav"]), filename="Some Band - Some Song.wav")
    [meta] = resolve(plain, settings)
    assert (meta.title, meta.artists) == ("Some Song", ("Some Band",))


def test_a_local_file_is_copied_not_linked(
    samples: dict[str, Path], settings: SourceSettings, tmp_path: Path
) -> None:
    source = tmp_path / "library" / "song.flac"
    source.parent.mkdir()
    shutil.copyfile(samples["flac"], source)
    stat = source.stat()
    result = fetch(FetchRequest(source=LocalPath(path=str(source))), tmp_path / "t", settings)
    copied = Path(result.original_path)
    assert copied.name == "source.flac"
    assert copied.stat().st_ino != stat.st_ino
    assert source.stat().st_mtime_ns == stat.st_mtime_ns and source.exists()
    assert result.metadata.source_url == source.as_uri()


def test_a_folder_resolves_into_its_audio_files(
    samples: dict[str, Path], settings: SourceSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    for name in ["02 b.mp3", "01 a.wav", "cover.jpg", ".hidden.wav", "notes.txt"]:
        shutil.copyfile(samples["wav"], folder / name)
    (folder / "sub").mkdir()
    found = resolve(LocalPath(path=str(folder)), settings)
    assert [m.source for m in found] == [
        LocalPath(path=str(folder / "01 a.wav")),
        LocalPath(path=str(folder / "02 b.mp3")),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceNotFound, match="holds no audio files"):
        resolve(LocalPath(path=str(empty)), settings)


def _empty(folder: Path, samples: dict[str, Path]) -> Path:
    path = folder / "empty.wav"
    path.write_bytes(b"")
    return path


def _header_only(folder: Path, samples: dict[str, Path]) -> Path:
    path = folder / "cut.wav"
    path.write_bytes(samples["wav"].read_bytes()[:44])  # a RIFF header and no samples
    return path


def _truncated_m4a(folder: Path, samples: dict[str, Path]) -> Path:
    data = samples["m4a"].read_bytes()
    path = folder / "cut.m4a"
    path.write_bytes(data[: len(data) // 3])
    return path


def _text(folder: Path, samples: dict[str, Path]) -> Path:
    path = folder / "readme.mp3"
    path.write_text("Lyrics, not audio.\n" * 20)
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_empty, "empty.wav is empty (0 bytes)"),
        (_header_only, "cut.wav contains no audio samples"),
        (_truncated_m4a, "cut.m4a "),
        (_text, "readme.mp3 "),
    ],
    ids=["empty", "header-only", "truncated-m4a", "text"],
)
def test_bad_files_are_unreadable_and_leave_nothing(
    samples: dict[str, Path],
    settings: SourceSettings,
    tmp_path: Path,
    make: Callable[[Path, dict[str, Path]], Path],
    says: str,
) -> None:
    track = tmp_path / "track"
    track.mkdir()
    (track / "audio.wav").write_bytes(b"earlier result")
    bad = make(tmp_path, samples)
    with pytest.raises(UnreadableAudio) as caught:
        fetch(FetchRequest(source=Upload(path=str(bad), filename=bad.name)), track, settings)
    assert str(caught.value).startswith(says)
    assert os.listdir(track) == ["audio.wav"]  # no partial files, the earlier one kept
    assert (track / "audio.wav").read_bytes() == b"earlier result"


def test_too_long(samples: dict[str, Path], tmp_path: Path) -> None:
    settings = SourceSettings(max_seconds=5)
    upload = Upload(path=str(samples["long"]), filename="long.wav")
    with pytest.raises(AudioTooLong, match=r"long.wav is 0:06 long; the limit is 0:05"):
        fetch(FetchRequest(source=upload), tmp_path / "t", settings)
    assert os.listdir(tmp_path / "t") == []


def test_too_big(samples: dict[str, Path], tmp_path: Path) -> None:
    settings = SourceSettings(max_bytes=1000)
    upload = Upload(path=str(samples["wav"]), filename="big.wav")
    with pytest.raises(SourceTooLarge, match=r"big.wav is 0.0 MB; the limit is 0.0 MB"):
        fetch(FetchRequest(source=upload), tmp_path / "t", settings)


def test_a_vanished_file_is_not_found(settings: SourceSettings, tmp_path: Path) -> None:
    upload = Upload(path=str(tmp_path / "gone"), filename="song.mp3")
    with pytest.raises(SourceNotFound, match=r"song\.mp3 no longer exists"):
        fetch(FetchRequest(source=upload), tmp_path / "t", settings)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("song.mp3", "song.mp3"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\song.wav", "song.wav"),
        ("..", "upload"),
        ("a\x00b\nc.wav", "a_b_c.wav"),
        ("x" * 300 + ".flac", "x" * 110 + ".flac"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe
