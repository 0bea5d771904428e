"""Readable stem names and the zip of all stems."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from soundforge.audio.separation import (
    SeparationOptions,
    Separator,
    export_zip,
    safe_filename,
    stem_filename,
)


@pytest.mark.parametrize(
    ("artist", "title", "stem", "ext", "expected"),
    [
        ("Artist", "Title", "vocals", "wav", "Artist - Title (vocals).wav"),
        ("AC/DC", "T.N.T.", "drums", "flac", "AC-DC - T.N.T (drums).flac"),
        (None, "Song: Remix?", "bass", "mp3", "Song - Remix (bass).mp3"),
        ("", "", "other", "wav", "Untitled (other).wav"),
        ("A\\B", 'Say "Hi" <live> | *', "vocals", "wav", "A-B - Say Hi live (vocals).wav"),
        ("Con", "nul", "vocals", "wav", "Con - nul (vocals).wav"),
        (None, "CON", "vocals", "wav", "CON (vocals).wav"),
        ("Björk", "Jóga\n\t", "vocals", "wav", "Björk - Jóga (vocals).wav"),
    ],
)
def test_stem_filename(artist: str | None, title: str, stem: str, ext: str, expected: str) -> None:
    assert stem_filename(stem, ext, artist=artist, title=title) == expected


def test_long_names_are_cut_to_fit_a_filesystem() -> None:
    name = stem_filename("vocals", "wav", artist="é" * 300, title="x" * 300)
    assert len(name.encode()) <= 200 and name.endswith(" (vocals).wav")


def test_safe_filename_never_returns_something_unsafe() -> None:
    for text in ["..", " . ", "/", "a/../b", "\x00", "CON", "lpt1.txt"]:
        cleaned = safe_filename(text)
        assert cleaned and "/" not in cleaned and "\x00" not in cleaned
        assert cleaned not in (".", "..") and cleaned.upper() not in ("CON", "LPT1.TXT")


def test_zip_of_every_stem(separator: Separator, short_wav: Path, tmp_path: Path) -> None:
    result = separator.separate(
        short_wav,
        tmp_path / "stems",
        SeparationOptions(engine="demucs", model="tinytest", shifts=0),
    )
    target = export_zip(
        result.stems, tmp_path / "out" / "stems.zip", artist="AC/DC", title="T.N.T."
    )
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert names == [f"AC-DC - T.N.T ({s}).wav" for s in ("drums", "bass", "other", "vocals")]
        for stem, name in zip(result.stems, names, strict=True):
            assert archive.read(name) == Path(stem.path).read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["stems.zip"]  # no partial file left
