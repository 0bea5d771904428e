"""Structure, arrangement markers and loop points on an arranged 3-minute track."""

from __future__ import annotations

import itertools

import numpy as np

from soundforge.audio.analysis import Analysis, analyze_audio
from soundforge.audio.analysis.schema import SECTION_LABELS
from soundforge.bench.analysis_corpus import Rendered, TrackSpec, render


def test_segments_cover_the_track_in_order(arranged_analysis: Analysis) -> None:
    segments = arranged_analysis.structure
    assert segments[0].start_ms == 0
    assert segments[-1].end_ms == arranged_analysis.duration_ms
    for a, b in itertools.pairwise(segments):
        assert a.end_ms == b.start_ms and a.start_ms < a.end_ms
    assert all(s.label in SECTION_LABELS for s in segments)
    assert 4 <= len(segments) <= 14


def test_drops_intro_and_outro_are_found(arranged: Rendered, arranged_analysis: Analysis) -> None:
    bar_ms = 4 * 60000 / arranged.spec.bpm
    true_drops = [start for label, start, _ in arranged.sections if label == "drop"]
    found = [s.start_ms for s in arranged_analysis.structure if s.label == "drop"]
    for start in true_drops:
        assert any(abs(f - start * 1000) <= bar_ms for f in found), (start, found)
    labels = [s.label for s in arranged_analysis.structure]
    assert labels[0] == "intro" and labels[-1] == "outro"
    assert "build-up" in labels and "breakdown" in labels
    # The loudest sections are the drops.
    loudest = max(arranged_analysis.structure, key=lambda s: s.energy)
    assert loudest.label == "drop"


def test_markers_report_the_drops(arranged: Rendered, arranged_analysis: Analysis) -> None:
    drops = [m for m in arranged_analysis.markers if m.kind == "drop"]
    assert len(drops) == 2
    assert all(0 < m.intensity <= 1 and m.end_ms is not None for m in drops)
    builds = [m for m in arranged_analysis.markers if m.kind == "build-up"]
    assert all(any(b.end_ms == d.position_ms for b in builds) for d in drops)
    positions = [m.position_ms for m in arranged_analysis.markers]
    assert positions == sorted(positions)


def test_loops_are_bar_aligned_and_ranked(arranged_analysis: Analysis) -> None:
    rhythm = arranged_analysis.rhythm
    starts = {bar.start_ms for bar in rhythm.bars}
    ends = {bar.end_ms for bar in rhythm.bars}
    loops = arranged_analysis.loops
    assert 1 <= len(loops) <= 8
    for loop in loops:
        assert loop.start_ms in starts and loop.end_ms in ends
        assert loop.start_ms in rhythm.downbeats_ms
        assert loop.bars in (1, 2, 4, 8) and loop.beats == 4 * loop.bars
        bar = rhythm.bars[loop.start_bar]
        assert bar.start_ms == loop.start_ms
        assert rhythm.bars[loop.start_bar + loop.bars - 1].end_ms == loop.end_ms
        assert 0 <= loop.score <= 1
    scores = [loop.score for loop in loops]
    assert scores == sorted(scores, reverse=True)
    # The best loops come from full sections, not from the near-silent breakdown.
    assert loops[0].energy > 0.5 and loops[0].section in ("drop", "verse", "chorus")


def test_key_change_marker() -> None:
    first = render(TrackSpec(bpm=120.0, tonic=0, mode="major", seconds=32.0, seed=1))
    second = render(
        TrackSpec(bpm=120.0, tonic=4, mode="major", seconds=32.0, progression=1, seed=2)
    )
    analysis = analyze_audio(np.concatenate([first.mix, second.mix], axis=1), 44100)
    changes = [m for m in analysis.markers if m.kind == "key-change"]
    assert len(changes) == 1
    assert abs(changes[0].position_ms - 32000) <= 6000
    assert changes[0].detail == "C major to E major"
