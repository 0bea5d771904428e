"""The JSON contract: round trip, the database's CHECKs, versioning, no NaN ever."""

from __future__ import annotations

import json
import math
import re

import msgspec
import pytest

from soundforge.audio.analysis import (
    ANALYSIS_VERSION,
    Analysis,
    AnalysisFormatError,
    decode,
    encode,
)
from soundforge.audio.analysis.schema import CAMELOT_PATTERN, KEY_PATTERN, SECTION_LABELS


def check_db_constraints(analysis: Analysis) -> None:
    """The CHECK constraints of the analysis_results columns."""
    assert analysis.tempo is None or 0 < analysis.tempo < 1000
    assert analysis.key is None or re.match(KEY_PATTERN, analysis.key)
    assert analysis.camelot is None or re.match(CAMELOT_PATTERN, analysis.camelot)
    lufs = analysis.loudness_lufs
    assert lufs is None or (-200 < lufs < 30 and math.isfinite(lufs))
    assert isinstance(analysis.duration_ms, int) and analysis.duration_ms >= 0


def test_round_trip_of_a_real_analysis(dance_analysis: Analysis) -> None:
    data = encode(dance_analysis)
    assert decode(data) == dance_analysis
    raw = json.loads(data)
    assert raw["version"] == ANALYSIS_VERSION
    for field in ("tempo", "key", "camelot", "duration_ms", "loudness_lufs", "sample_rate"):
        assert field in raw
    assert b"NaN" not in data and b"Infinity" not in data
    check_db_constraints(dance_analysis)


def test_every_label_and_time_is_in_the_contract(dance_analysis: Analysis) -> None:
    a = dance_analysis
    assert all(s.label in SECTION_LABELS for s in a.structure)
    positions = [*a.rhythm.beats_ms, *a.rhythm.downbeats_ms]
    positions += [c.start_ms for c in a.chords] + [c.end_ms for c in a.chords]
    assert all(isinstance(p, int) and 0 <= p <= a.duration_ms for p in positions)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tempo", 0.0),
        ("tempo", 1000.0),
        ("key", "H minor"),
        ("key", "C# Minor"),
        ("camelot", "13A"),
        ("camelot", "0B"),
        ("camelot", "8C"),
        ("loudness_lufs", -200.0),
        ("loudness_lufs", 31.0),
        ("duration_ms", -1),
    ],
)
def test_decode_enforces_the_db_checks(dance_analysis: Analysis, field: str, value: object) -> None:
    raw = json.loads(encode(dance_analysis))
    raw[field] = value
    with pytest.raises(AnalysisFormatError, match="does not fit the schema"):
        decode(json.dumps(raw))


def test_nan_loudness_is_stored_as_null() -> None:
    # msgspec writes non-finite floats as null, which decodes as None (never NaN in the DB).
    a = Analysis(duration_ms=10, sample_rate=44100, channels=1, loudness_lufs=float("nan"))
    assert decode(encode(a)).loudness_lufs is None


def test_unknown_version_is_refused() -> None:
    raw = json.loads(encode(Analysis(duration_ms=1, sample_rate=8000, channels=1)))
    raw["version"] = ANALYSIS_VERSION + 1
    with pytest.raises(AnalysisFormatError, match="analyse the track again"):
        decode(json.dumps(raw))
    with pytest.raises(AnalysisFormatError, match="not valid JSON"):
        decode(b"{not json")


def test_schema_is_one_msgspec_struct_tree() -> None:
    schema = msgspec.json.schema(Analysis)
    props = schema["$defs"]["Analysis"]["properties"]
    assert {"version", "tempo", "key", "camelot", "duration_ms", "loudness_lufs"} <= set(props)
