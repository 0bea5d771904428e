"""The library's queries: filters, sorting, pagination, stages from real job rows, a
track's page and its analysis document."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from soundforge.audio.analysis.keys import KEY_NAMES, camelot
from soundforge.music import library
from soundforge.music.library import (
    AnalysisNotFound,
    InvalidFilter,
    TrackFilter,
    TrackNotFound,
    list_tracks,
)
from tests.music.conftest import (
    Users,
    add_job,
    add_track,
    analysed,
    downloaded,
    separated,
)


class Crate(msgspec.Struct):
    """Alice's small crate: title -> track id."""

    ids: dict[str, str]

    def titles(self, page: library.TrackPage) -> list[str]:
        names = {v: k for k, v in self.ids.items()}
        return [names[item.id] for item in page.items]


# title, artists, status, tempo, key, camelot, duration
SONGS: list[tuple[str, list[str], str, float | None, str | None, str | None, int | None]] = [
    ("Around the World", ["Daft Punk"], "ready", 121.0, "A minor", "8A", 429_000),
    ("One More Time", ["Daft Punk"], "ready", 123.0, "C major", "8B", 320_000),
    ("Windowlicker", ["Aphex Twin"], "ready", 127.5, "E minor", "9A", 366_000),
    ("Xtal", ["Aphex Twin"], "ready", 90.0, "D minor", "7A", 294_000),
    ("Teardrop", ["Massive Attack"], "ready", 77.0, "Bb minor", "3A", 330_000),
    ("Pending Song", [], "pending", None, None, None, None),
    ("Broken Song", ["Nobody"], "failed", None, None, None, 100_000),
]


@pytest.fixture
async def crate(db_pool: Any, users: Users) -> Crate:
    ids: dict[str, str] = {}
    for title, artists, status, tempo, key, code, duration in SONGS:
        track_id = await add_track(
            db_pool,
            users.alice,
            title,
            artists=artists,
            duration_ms=duration,
            status=status if status != "ready" else None,
            error="the download failed: 404" if status == "failed" else None,
        )
        if tempo is not None:
            await analysed(db_pool, track_id, tempo=tempo, key=key, camelot=code)
        ids[title] = track_id
    # Bob has a Daft Punk track too; Alice never sees it.
    await add_track(db_pool, users.bob, "Digital Love", artists=["Daft Punk"])
    return Crate(ids)


async def titles(pool: Any, users: Users, crate: Crate, **filters: Any) -> list[str]:
    return crate.titles(await list_tracks(pool, users.alice, TrackFilter(**filters)))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("daft pu", {"Around the World", "One More Time"}),
        ("DAFT", {"Around the World", "One More Time"}),
        ("wor", {"Around the World"}),
        ("aphex win", {"Windowlicker"}),
        ("massive  teardrop", {"Teardrop"}),
        ("daft & | ! ( ) : * '", {"Around the World", "One More Time"}),  # no injection
        ("o'neil", set()),
        ("   ", {s[0] for s in SONGS}),  # nothing to search for: everything
    ],
)
async def test_search_matches_word_prefixes(
    db_pool: Any, users: Users, crate: Crate, q: str, expected: set[str]
) -> None:
    assert set(await titles(db_pool, users, crate, q=q)) == expected


async def test_filters_by_status_tempo_key_and_camelot(
    db_pool: Any, users: Users, crate: Crate
) -> None:
    assert await titles(db_pool, users, crate, status="failed") == ["Broken Song"]
    assert set(await titles(db_pool, users, crate, bpm_min=120, bpm_max=125)) == {
        "Around the World",
        "One More Time",
    }
    assert set(await titles(db_pool, users, crate, bpm_min=125)) == {"Windowlicker"}
    assert set(await titles(db_pool, users, crate, bpm_max=80)) == {"Teardrop"}
    for spelling in ("A minor", "Am", "a min", "A MINOR"):
        assert await titles(db_pool, users, crate, key=spelling) == ["Around the World"]
    # Enharmonic spellings of one key match alike.
    assert await titles(db_pool, users, crate, key="A# minor") == ["Teardrop"]
    assert await titles(db_pool, users, crate, key="Bbm") == ["Teardrop"]
    assert await titles(db_pool, users, crate, camelot="8b") == ["One More Time"]
    assert set(await titles(db_pool, users, crate, compatible_with="8A")) == {
        "Around the World",  # 8A itself
        "One More Time",  # 8B, its relative
        "Windowlicker",  # 9A
        "Xtal",  # 7A
    }
    combined = await titles(db_pool, users, crate, compatible_with="8A", bpm_min=122, q="daft")
    assert combined == ["One More Time"]


def test_compatible_camelot_wraps_around_the_wheel() -> None:
    assert library.compatible_camelot("12B") == ["12B", "11B", "1B", "12A"]
    assert library.compatible_camelot("1a") == ["1A", "12A", "2A", "1B"]


def test_key_spellings_agree_with_the_analyzer_wheel() -> None:
    for name in KEY_NAMES:
        tonic, mode = name.split()
        short = f"{tonic}{'m' if mode == 'minor' else ''}"
        assert library._key_code(name) == library._key_code(short) == camelot(name), name


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("title", None, ["Around the World", "Broken Song", "One More Time", "Pending Song"]),
        ("title", "desc", ["Xtal", "Windowlicker", "Teardrop", "Pending Song"]),
        ("bpm", "asc", ["Teardrop", "Xtal", "Around the World", "One More Time"]),
        ("bpm", "desc", ["Windowlicker", "One More Time", "Around the World", "Xtal"]),
        ("camelot", "asc", ["Teardrop", "Xtal", "Around the World", "One More Time"]),
        ("camelot", "desc", ["Windowlicker", "One More Time", "Around the World", "Xtal"]),
        ("key", "asc", ["Around the World", "Teardrop", "One More Time", "Xtal"]),
        ("duration", "asc", ["Broken Song", "Xtal", "One More Time", "Teardrop"]),
        ("artist", "asc", ["Windowlicker", "Xtal", "Around the World", "One More Time"]),
        ("artist", "desc", ["Broken Song", "Teardrop", "One More Time", "Around the World"]),
        ("status", "asc", ["Pending Song"]),
        ("created", None, ["Broken Song", "Pending Song", "Teardrop", "Xtal"]),
        ("created", "asc", ["Around the World", "One More Time", "Windowlicker", "Xtal"]),
    ],
)
async def test_sorts(
    db_pool: Any, users: Users, crate: Crate, sort: str, order: str | None, expected: list[str]
) -> None:
    ordered = await titles(db_pool, users, crate, sort=sort, order=order)
    assert ordered[: len(expected)] == expected
    assert len(ordered) == len(SONGS)


async def test_missing_values_sort_last_either_way(
    db_pool: Any, users: Users, crate: Crate
) -> None:
    for order in ("asc", "desc"):
        ordered = await titles(db_pool, users, crate, sort="bpm", order=order)
        assert set(ordered[-2:]) == {"Pending Song", "Broken Song"}


async def test_pages_and_totals(db_pool: Any, users: Users, crate: Crate) -> None:
    seen: list[str] = []
    for offset in range(0, 8, 3):
        f = TrackFilter(sort="title", limit=3, offset=offset)
        page = await list_tracks(db_pool, users.alice, f)
        assert (page.total, page.limit, page.offset) == (len(SONGS), 3, offset)
        seen += crate.titles(page)
    assert seen == sorted(s[0] for s in SONGS)
    past = await list_tracks(db_pool, users.alice, TrackFilter(offset=50))
    assert (past.items, past.total) == ([], len(SONGS))
    filtered = await list_tracks(db_pool, users.alice, TrackFilter(q="aphex", limit=1))
    assert (len(filtered.items), filtered.total) == (1, 2)
    by_tempo = await list_tracks(db_pool, users.alice, TrackFilter(bpm_min=100, limit=2))
    assert (len(by_tempo.items), by_tempo.total) == (2, 3)  # counted with the analyses
    none = await list_tracks(db_pool, users.alice, TrackFilter(q="zzz"))
    assert (none.items, none.total) == ([], 0)


async def test_summary_carries_analysis_and_serializes(
    db_pool: Any, users: Users, crate: Crate
) -> None:
    page = await list_tracks(db_pool, users.alice, TrackFilter(q="windowlicker"))
    (item,) = page.items
    assert (item.title, item.artists, item.status) == ("Windowlicker", ["Aphex Twin"], "ready")
    assert (item.tempo_bpm, item.key, item.camelot, item.loudness_lufs) == (
        127.5,
        "E minor",
        "9A",
        -9.0,
    )
    assert item.source_kind == "upload" and item.source_name == "Windowlicker.wav"
    document = msgspec.json.decode(msgspec.json.encode(page))
    assert document["items"][0]["title"] == "Windowlicker" and document["total"] == 1
    broken = await library.get_track_summary(db_pool, users.alice, crate.ids["Broken Song"])
    assert (broken.status, broken.error) == ("failed", "the download failed: 404")


async def test_stages_show_the_latest_job_of_each_stage(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Staged")
    await add_job(db_pool, track_id, "download", "cancelled", errors=["the URL is gone"])
    download = await add_job(db_pool, track_id, "download", "completed", progress=0.4)
    separate = await add_job(
        db_pool,
        track_id,
        "separate",
        "retryable",
        progress=0.25,
        label="separating",
        errors=["the separator crashed\nTraceback (most recent call last): ..."],
    )
    other = await add_track(db_pool, users.alice, "Other")
    await add_job(db_pool, other, "analyze", "executing", progress=0.5)

    summary = await library.get_track_summary(db_pool, users.alice, track_id)
    assert [(s.stage, s.job_id, s.state) for s in summary.stages] == [
        ("download", download.id, "completed"),
        ("separate", separate.id, "retryable"),
    ]
    done, running = summary.stages
    assert (done.progress, done.error, done.completed_at is not None) == (1.0, None, True)
    assert (running.progress, running.label, running.attempt) == (0.25, "separating", 1)
    assert running.error == "the separator crashed"  # the first line only
    assert running.max_attempts == 5 and running.attempted_at is not None

    (page_item,) = (await list_tracks(db_pool, users.alice, TrackFilter(q="staged"))).items
    assert page_item.stages == summary.stages
    fresh = await library.get_track_summary(db_pool, users.alice, other)
    assert [(s.stage, s.progress) for s in fresh.stages] == [("analyze", 0.5)]


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"sort": "loudness"}, "cannot sort by"),
        ({"order": "up"}, "order must be asc or desc"),
        ({"limit": 0}, "limit must be between 1 and 200"),
        ({"limit": 201}, "limit must be between 1 and 200"),
        ({"offset": -1}, "offset must be 0 or more"),
        ({"status": "done"}, "status 'done' is unknown"),
        ({"bpm_min": 0}, "bpm_min must be a tempo"),
        ({"bpm_max": float("nan")}, "bpm_max must be a tempo"),
        ({"bpm_min": 130, "bpm_max": 120}, "bpm_min (130) is above bpm_max (120)"),
        ({"key": "H minor"}, "is not a key"),
        ({"camelot": "13A"}, "is not a Camelot code"),
        ({"compatible_with": "8C"}, "compatible_with '8C' is not a Camelot code"),
        ({"q": " ".join(["word"] * 17)}, "use at most 16"),
        ({"q": "a" * 201}, "use at most 200 characters"),
    ],
)
async def test_bad_filters_are_refused_with_a_sentence(
    db_pool: Any, users: Users, filters: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidFilter, match=re.escape(words)) as error:
        await list_tracks(db_pool, users.alice, TrackFilter(**filters))
    assert error.value.status == 422


def test_parse_filter_reads_query_parameters() -> None:
    parsed = library.parse_filter(
        {"q": "daft", "bpm_min": "120.5", "limit": "10", "key": "", "sort": "bpm", "x": "1"}
    )
    assert parsed == TrackFilter(q="daft", bpm_min=120.5, limit=10, sort="bpm")
    with pytest.raises(InvalidFilter, match="limit"):
        library.parse_filter({"limit": "ten"})


async def test_track_detail_gathers_everything(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Detailed", artists=["DJ"])
    await downloaded(db_pool, track_id)
    await separated(db_pool, track_id, model="htdemucs")
    await separated(db_pool, track_id, model="htdemucs_6s", names=("vocals", "guitar"))
    await analysed(db_pool, track_id, tempo=100.0, result={"version": 1, "tempo": 100.0})
    await analysed(db_pool, track_id, tempo=101.0, result={"version": 1, "tempo": 101.0})
    await db_pool.execute(
        """INSERT INTO cue_points (track_id, kind, hot_index, position_ms, label)
           VALUES ($1::uuid, 'hot', 0, 500, 'drop'), ($1::uuid, 'memory', NULL, 100, NULL)""",
        track_id,
    )
    await db_pool.execute(
        "INSERT INTO loops (track_id, start_ms, end_ms, bars) VALUES ($1::uuid, 0, 2000, 4)",
        track_id,
    )
    job = await add_job(db_pool, track_id, "download", "completed")

    detail = await library.track_detail(db_pool, users.alice, track_id)
    assert detail.title == "Detailed" and detail.tempo_bpm == 101.0
    assert [(s.model, [x.stem for x in s.stems]) for s in detail.separations] == [
        ("htdemucs_6s", ["guitar", "vocals"]),
        ("htdemucs", ["bass", "drums", "other", "vocals"]),
    ]
    assert detail.separations[0].stems[0].format == "wav"
    assert detail.analysis is not None and detail.analysis.tempo_bpm == 101.0
    assert [(c.kind, c.position_ms) for c in detail.cue_points] == [("memory", 100), ("hot", 500)]
    assert [(lp.start_ms, lp.end_ms, lp.bars) for lp in detail.loops] == [(0, 2000, 4.0)]
    assert [(j.id, j.stage, j.state, j.track_id) for j in detail.jobs] == [
        (job.id, "download", "completed", track_id)
    ]
    assert detail.stages[0].job_id == job.id
    assert msgspec.json.decode(msgspec.json.encode(detail))["separations"][0]["engine"] == "demucs"

    document = await library.analysis_document(db_pool, users.alice, track_id)
    assert document == {"version": 1, "tempo": 101.0}


async def test_analysis_document_of_an_unanalysed_track(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Fresh")
    with pytest.raises(AnalysisNotFound, match="has not been analysed yet") as error:
        await library.analysis_document(db_pool, users.alice, track_id)
    assert error.value.status == 404
    with pytest.raises(TrackNotFound):
        await library.analysis_document(db_pool, users.bob, track_id)


async def test_track_jobs_and_job_views(db_pool: Any, users: Users) -> None:
    track_id = await add_track(db_pool, users.alice, "Jobs")
    first = await add_job(db_pool, track_id, "download", "cancelled", errors=["gone", "still"])
    second = await add_job(db_pool, track_id, "download", "executing", progress=0.3)
    jobs = await library.track_jobs(db_pool, users.alice, track_id)
    assert [j.id for j in jobs] == [first.id, second.id]
    assert [(e.attempt, e.kind, e.message) for e in jobs[0].errors] == [
        (1, "exception", "gone"),
        (2, "exception", "still"),
    ]
    view = await library.get_job_view(db_pool, users.alice, str(second.id))
    assert (view.worker, view.stage, view.progress) == ("soundforge.download", "download", 0.3)
    assert (
        await library.track_jobs(db_pool, users.alice, await add_track(db_pool, users.alice, "x"))
        == []
    )
