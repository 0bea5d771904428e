"""What the page templates need beyond Jinja: formatting filters, the pipeline's stages as a
row shows them, and the settings form described from :class:`UserSettings` itself.

The filters are registered app-wide (``duration``, ``bpm``, ``stages``, ``datetime``), so the
track and admin pages can use them too. ``web/static/js/library.js`` renders the same rows
in the browser; its ``stageView`` mirrors :func:`stage_views` (same states, same words).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Final

import msgspec
from quart import Blueprint

from soundforge.accounts import UserSettings
from soundforge.music.library import TrackSummary

__all__ = [
    "CAMELOT_CODES",
    "preference_fields",
    "register_filters",
    "sentence",
    "stage_views",
    "track_view",
]

CAMELOT_CODES: Final = tuple(f"{n}{letter}" for n in range(1, 13) for letter in "AB")

#: The pipeline's stages as a row shows them, in order.
STAGES: Final = (("download", "Download"), ("separate", "Separate"), ("analyze", "Analyse"))

#: A queue job's state → how a row shows its stage.
_STAGE_STATES: Final = {
    "available": "waiting",
    "scheduled": "waiting",
    "executing": "running",
    "retryable": "retrying",
    "completed": "done",
    "discarded": "failed",
    "cancelled": "cancelled",
}
_STATE_WORDS: Final = {
    "none": "not started",
    "waiting": "queued",
    "running": "running",
    "retrying": "will retry",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}


def sentence(message: str) -> str:
    """A domain error's message as a sentence on a page ("Wrong email or password.")."""
    message = message.strip() or "the request failed"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def duration(ms: int | None) -> str:
    if ms is None:
        return "–"
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def bpm(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "never"


def stage_views(track: TrackSummary) -> list[dict[str, Any]]:
    """Each stage of a track's pipeline: its state, percentage, label, error and what a user
    can do about it (``retry`` for a failed or cancelled job, ``cancel`` for an unfinished one)."""
    by_stage = {view.stage: view for view in track.stages}
    views = []
    for stage, name in STAGES:
        job = by_stage.get(stage)
        state = _STAGE_STATES.get(job.state, "waiting") if job is not None else "none"
        percent = 100 if state == "done" else round(100 * (job.progress if job else 0.0))
        views.append(
            {
                "stage": stage,
                "name": name,
                "state": state,
                "words": _STATE_WORDS[state],
                "percent": max(0, min(100, percent)),
                "label": (job.label if job is not None and state == "running" else None),
                "job_id": job.job_id if job is not None else None,
                "error": job.error if job is not None and state != "done" else None,
                "can_retry": state in ("failed", "cancelled", "retrying"),
                "can_cancel": state in ("waiting", "running", "retrying"),
            }
        )
    return views


def track_view(track: TrackSummary) -> dict[str, Any]:
    """A library row: its stages, the problem to show (the track's error, else the first
    stage's), the jobs a Retry button restarts and the job a Cancel button stops."""
    stages = stage_views(track)
    errors = [s["error"] for s in stages if s["error"]]
    problem = track.error or (errors[0] if errors else None)
    retry = [s for s in stages if s["can_retry"]]
    cancel = next((s for s in reversed(stages) if s["can_cancel"]), None)
    return {"stages": stages, "problem": problem, "retry": retry, "cancel": cancel}


def register_filters(blueprint: Blueprint) -> None:
    blueprint.add_app_template_filter(duration, "duration")
    blueprint.add_app_template_filter(bpm, "bpm")
    blueprint.add_app_template_filter(when, "datetime")
    blueprint.add_app_template_filter(stage_views, "stages")
    blueprint.add_app_template_filter(track_view, "track_view")


# -- the settings form -------------------------------------------------------------------------

_TEXT: Final[dict[str, tuple[str, str, str]]] = {
    # field: (group, label, help)
    "separation_engine": (
        "separation",
        "Engine",
        "Auto uses Demucs when its model weights are installed, else the built-in engine.",
    ),
    "separation_model": (
        "separation",
        "Model",
        "A Demucs model such as htdemucs or htdemucs_6s; empty for the engine's default.",
    ),
    "stem_format": (
        "separation",
        "Stem format",
        "WAV is lossless and largest; FLAC is lossless and smaller.",
    ),
    "bit_depth": ("separation", "Bit depth", "FLAC goes up to 24 bits."),
    "separation_shifts": (
        "separation",
        "Shifts",
        "Demucs' random-shift passes: better stems, each pass costs another full run.",
    ),
    "analysis_hpss": (
        "analysis",
        "Harmonic/percussive split",
        "Helps key and chords on drum-heavy music; a few seconds more per track.",
    ),
    "analysis_pitch": (
        "analysis",
        "Pitch track",
        "The melody's pitch over time; 15–25 s more per track.",
    ),
    "analysis_key_profile": (
        "analysis",
        "Key profile",
        "Auto picks the profile per track; EDMA suits electronic music.",
    ),
    "analysis_min_bpm": ("analysis", "Lowest tempo (BPM)", "Tempo is searched between these two."),
    "analysis_max_bpm": ("analysis", "Highest tempo (BPM)", ""),
}


def preference_fields(prefs: UserSettings) -> list[dict[str, Any]]:
    """The settings form, one entry per :class:`UserSettings` field: its input kind
    (select, number, checkbox, text), choices or bounds, and current value."""
    info = msgspec.inspect.type_info(UserSettings)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = []
    for field in info.fields:
        group, label, help_text = _TEXT.get(field.name, ("other", field.name, ""))
        entry: dict[str, Any] = {
            "name": field.name,
            "group": group,
            "label": label,
            "help": help_text,
            "value": getattr(prefs, field.name),
        }
        kind = field.type
        if isinstance(kind, msgspec.inspect.LiteralType):
            entry.update(kind="select", choices=list(kind.values))
            entry["numeric"] = all(isinstance(v, int) for v in kind.values)
        elif isinstance(kind, msgspec.inspect.BoolType):
            entry["kind"] = "checkbox"
        elif isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            step = "1" if isinstance(kind, msgspec.inspect.IntType) else "0.5"
            entry.update(kind="number", min=kind.ge, max=kind.le, step=step)
        else:
            entry.update(kind="text", pattern=_pattern(kind))
        fields.append(entry)
    return fields


def _pattern(kind: msgspec.inspect.Type) -> str | None:
    types = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    for item in types:
        if isinstance(item, msgspec.inspect.StrType) and item.pattern:
            return item.pattern.removeprefix("^").removesuffix("$")
    return None
