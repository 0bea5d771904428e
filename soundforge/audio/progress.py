"""Progress reporting from audio code: a callback taking a fraction and a stage label.

Audio functions take ``progress: Progress`` and call it with a fraction in ``[0, 1]`` of
*their* work and a short label (``"separating"``, ``"writing stems"``). :func:`scaled` maps a
sub-step onto a slice of its caller's range, so nested steps still report one monotonic
percentage. The port program turns the calls into throttled progress frames.

    def analyse(path, progress=NO_PROGRESS):
        load(path, scaled(progress, 0.0, 0.2))     # reports 0..20 %
        beats(y, scaled(progress, 0.2, 0.6))       # reports 20..60 %
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["NO_PROGRESS", "Progress", "scaled"]

Progress = Callable[[float, str], None]


def _ignore(fraction: float, stage: str) -> None:
    del fraction, stage


NO_PROGRESS: Final[Progress] = _ignore


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A callback that maps ``0..1`` onto ``start..end`` of ``progress``."""
    if not 0.0 <= start <= end <= 1.0:
        raise ValueError(f"a progress slice must lie within 0..1, not {start}..{end}")

    def report(fraction: float, stage: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), stage)

    return report
