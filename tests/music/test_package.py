"""The music package's public names: a change here is a change of the web layer's API."""

from __future__ import annotations

import msgspec

import soundforge.music
from soundforge.music import events, library
from soundforge.supervisors.root import PUBSUB_TYPES

EXPECTED = {
    # events
    "DuplicateFound", "Stage", "StageChanged", "StageProgress", "TrackCreated", "TrackEvent",
    "TrackStatusChanged", "track_topic", "user_topic",
    # library: values
    "SORTS", "STATUSES", "AnalysisSummary", "AttemptFailure", "Cue", "JobView", "Loop",
    "Separation", "StageView", "StemInfo", "StemView", "TrackDetail", "TrackFilter", "TrackPage",
    "TrackSummary",
    # library: errors
    "AnalysisNotFound", "InvalidFilter", "InvalidSeparation", "JobNotFound", "LibraryConflict",
    "StemFileMissing", "StemNotFound", "TrackNotFound", "UnsafePath",
    # library: functions
    "analysis_document", "cancel_job", "compatible_camelot", "data_file", "delete_track",
    "delete_tracks", "get_job_view", "get_owned_track", "get_track_summary", "library_version",
    "list_tracks",
    "parse_filter", "reseparate", "retry_job", "stem_path", "track_detail", "track_jobs",
}  # fmt: skip


def test_exported_names() -> None:
    assert set(soundforge.music.__all__) == EXPECTED
    assert len(soundforge.music.__all__) == len(EXPECTED)
    for name in soundforge.music.__all__:
        assert getattr(soundforge.music, name) is not None
    assert set(library.__all__) <= EXPECTED


def test_results_are_frozen_structs() -> None:
    for name in library.__all__:
        value = getattr(library, name)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            assert value.__struct_config__.frozen, name


def test_track_created_crosses_nodes_as_json() -> None:
    assert events.TrackCreated in events.EVENT_TYPES and events.TrackCreated in PUBSUB_TYPES
    event = events.TrackCreated("t1", "u1", "Night Drive", "local")
    encoded = msgspec.json.encode(event)
    assert msgspec.json.decode(encoded) == {
        "type": "track.created",
        "track_id": "t1",
        "user_id": "u1",
        "title": "Night Drive",
        "source_kind": "local",
    }
    assert msgspec.json.decode(encoded, type=events.TrackEvent) == event
