"""The structured replies of the planner-like agents, and how a reply is checked.

``mix_planner`` and ``practice_coach`` answer with one JSON object: ``reply`` (what the
user reads) and ``plan`` (a set order, or a practice plan; null when the turn only talks).
The request carries the type's JSON Schema; :func:`parse_reply` decodes the model's text
into the msgspec type (a fenced or prefixed object is accepted), and the agent's own check
then holds it against the data: a set's tracks must be the user's, a practice step must lie
inside the track. A reply that fails either gets one repair turn (the runner sends the
error back), then the chat reports a clear error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from soundforge.agents.context import TrackContext
from soundforge.agents.errors import StructuredOutputInvalid

__all__ = [
    "MixPlannerReply",
    "PracticePlan",
    "PracticeReply",
    "PracticeStep",
    "SetEntry",
    "SetPlan",
    "check_practice",
    "check_set",
    "parse_reply",
]

T = TypeVar("T")

Text = Annotated[str, msgspec.Meta(max_length=4000)]
Short = Annotated[str, msgspec.Meta(max_length=300)]


class SetEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    track_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    title: Short
    #: How to bring this track in: key relation, tempo change, where to mix.
    transition: Short | None = None


class SetPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow: Literal["rising", "peak", "steady"]
    tracks: Annotated[list[SetEntry], msgspec.Meta(min_length=1, max_length=40)]


class MixPlannerReply(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reply: Text
    plan: SetPlan | None = None


class PracticeStep(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: What to practise: a section name ("chorus") or a short description.
    focus: Short
    start_ms: Annotated[int, msgspec.Meta(ge=0)]
    end_ms: Annotated[int, msgspec.Meta(ge=1)]
    #: Playback rate in per cent of the original tempo.
    tempo_pct: Annotated[int, msgspec.Meta(ge=25, le=150)]
    repeats: Annotated[int, msgspec.Meta(ge=1, le=50)] = 4
    #: A stem to mute or solo while practising, e.g. "mute drums".
    stems: Short | None = None


class PracticePlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    goal: Short
    steps: Annotated[list[PracticeStep], msgspec.Meta(min_length=1, max_length=20)]


class PracticeReply(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reply: Text
    plan: PracticePlan | None = None


def _object_text(text: str) -> str:
    """The JSON object in a reply that wraps it in a code fence or a sentence."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def parse_reply(text: str, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(_object_text(text).encode(), type=type_)
    except msgspec.ValidationError as error:
        raise StructuredOutputInvalid(f"the reply does not match the schema: {error}") from None
    except msgspec.DecodeError:
        raise StructuredOutputInvalid("the reply is not one JSON object") from None


async def check_set(conn: Any, user_id: str, context: TrackContext | None, value: Any) -> None:
    """Every track of the set is one of the user's."""
    if not isinstance(value, MixPlannerReply) or value.plan is None:
        return
    ids = [entry.track_id for entry in value.plan.tracks]
    rows = await conn.fetch(
        """SELECT id::text FROM tracks WHERE user_id = $1::uuid
           AND id::text = ANY($2::text[])""",
        user_id,
        ids,
    )
    known = {r["id"] for r in rows}
    unknown = [t for t in ids if t not in known]
    if unknown:
        raise StructuredOutputInvalid(
            f"the plan names tracks that are not in the library: {', '.join(unknown[:5])}; "
            "use track ids from search_library or plan_mix"
        )


async def check_practice(conn: Any, user_id: str, context: TrackContext | None, value: Any) -> None:
    """Every step lies inside the track and ends after it starts."""
    if not isinstance(value, PracticeReply) or value.plan is None:
        return
    duration = context.duration_ms if context is not None else None
    for step in value.plan.steps:
        if step.end_ms <= step.start_ms:
            raise StructuredOutputInvalid(f"the step {step.focus!r} must end after it starts")
        if duration is not None and step.end_ms > duration:
            raise StructuredOutputInvalid(
                f"the step {step.focus!r} ends at {step.end_ms} ms, past the track's end "
                f"({duration} ms)"
            )
