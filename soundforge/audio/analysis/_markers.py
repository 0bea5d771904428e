"""Arrangement markers: drops, build-ups, breakdowns and key changes, with times.

Drops, build-ups and breakdowns are read off the labelled structure (so they share its
heuristics and limits): a marker at the start of each such segment, with its end, and an
intensity in 0..1. For a drop, the intensity is the jump in level into it over 12 dB;
for a build-up, its rise in level from start to end over 12 dB; for a breakdown, how far
below the loudest section it sits, over 24 dB. Key changes come from the windowed key
estimate (``_key.key_changes``), snapped to the nearest downbeat when there is a bar grid.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from soundforge.audio.analysis._key import KeyChange
from soundforge.audio.analysis._structure import SegmentSpan, Units
from soundforge.audio.analysis.keys import key_name
from soundforge.audio.analysis.schema import Marker

__all__ = ["arrangement_markers"]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _level(units: Units, first: int, end: int) -> float:
    return float(10 * np.log10(np.mean(10 ** (units.rms_db[first:end] / 10))))


def arrangement_markers(
    units: Units,
    segments: list[SegmentSpan],
    changes: list[KeyChange],
    downbeats: F64,
) -> list[Marker]:
    """Markers in time order."""
    markers: list[Marker] = []
    top = float(units.rms_db.max()) if units.count else 0.0
    for i, seg in enumerate(segments):
        start, end = float(units.edges[seg.first]), float(units.edges[seg.end])
        if seg.label == "drop":
            before = _level(units, segments[i - 1].first, segments[i - 1].end) if i else top
            jump = _level(units, seg.first, seg.end) - before
            intensity, detail = jump / 12.0, f"level jumps {jump:.1f} dB"
        elif seg.label == "build-up":
            rise = float(units.rms_db[seg.end - 1] - units.rms_db[seg.first])
            intensity, detail = rise / 12.0, f"level rises {rise:.1f} dB"
        elif seg.label == "breakdown":
            depth = top - _level(units, seg.first, seg.end)
            intensity, detail = depth / 24.0, f"{depth:.1f} dB below the loudest section"
        else:
            continue
        markers.append(
            Marker(
                kind=seg.label,
                position_ms=_ms(start),
                end_ms=_ms(end),
                intensity=round(float(np.clip(intensity, 0.0, 1.0)), 3),
                detail=detail,
            )
        )
    for change in changes:
        time = change.time
        if downbeats.size:
            time = float(downbeats[np.argmin(np.abs(downbeats - time))])
        detail = f"{key_name(*change.before)} to {key_name(*change.after)}"
        markers.append(
            Marker(
                kind="key-change",
                position_ms=_ms(time),
                intensity=round(float(np.clip(change.strength / 0.3, 0.0, 1.0)), 3),
                detail=detail,
            )
        )
    markers.sort(key=lambda m: m.position_ms)
    return markers
