"""The package's public surface is pinned: renaming or dropping a name breaks this test."""

from __future__ import annotations

import soundforge.audio.analysis as analysis


def test_public_names() -> None:
    assert sorted(analysis.__all__) == [
        "ANALYSIS_VERSION",
        "Analysis",
        "AnalysisFormatError",
        "AnalysisOptions",
        "analyze",
        "analyze_audio",
        "camelot",
        "camelot_of",
        "decode",
        "encode",
        "key_name",
        "parse_key",
        "warm_up",
    ]
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
