"""Lengths and sizes written the way people read them in an error message."""

from __future__ import annotations

__all__ = ["clock", "megabytes"]


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a length in seconds."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def megabytes(size: int) -> str:
    """A byte count: ``0.5 MB``, ``12 MB``."""
    return f"{size / 1e6:.1f} MB" if size < 10e6 else f"{size / 1e6:.0f} MB"
