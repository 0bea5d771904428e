"""The five agents: who each is (system prompt), which tools it may call, whether it works
on one track, and, for the planner-like ones, the structured reply it must give.

Every agent that has a track receives that track's context (``context.render_context``) in
its system prompt, so its first answer already rests on the real tempo, key, structure and
stems; the tools let it read more (a section of the analysis, other tracks) and propose
writes. The prompts ask for what a musician or DJ can act on: positions as m:ss, tempo
changes in per cent, Camelot codes.

    agent = AGENTS["cue_planner"]
    agent.tools      # ("get_track", "get_analysis_section", "propose_cues", "propose_loops")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from soundforge.agents.context import TrackContext
from soundforge.agents.outputs import MixPlannerReply, PracticeReply, check_practice, check_set
from soundforge.agents.tools import input_schema

__all__ = ["AGENTS", "Agent", "AgentInfo"]

Check = Callable[[Any, str, TrackContext | None, Any], Awaitable[None]]

_COMMON = """You are part of SoundForge, a self-hosted studio for a musician's or DJ's own \
library. Everything you know about a track comes from SoundForge's analysis and database, \
given below or through your tools; never invent a tempo, key, time or stem. If a fact is \
missing (the track is not analysed, no stems yet), say so and say what would provide it. \
Times are milliseconds in the data; write them as m:ss for the user. Be concise and \
practical: a few short paragraphs or a list."""


@dataclass(frozen=True)
class Agent:
    name: str
    title: str
    description: str
    prompt: str
    tools: tuple[str, ...]
    #: True: the agent works on one track and a chat needs a track_id.
    needs_track: bool
    #: The structured reply type (msgspec), or None for free text.
    output: type | None = None
    check: Check | None = None
    max_tokens: int = 1500

    def system(self, context: str | None) -> str:
        parts = [_COMMON, self.prompt]
        if self.output is not None:
            parts.append(
                "Answer with exactly one JSON object matching the given schema, and nothing "
                "else: `reply` is what the user reads; `plan` is null unless you give a plan."
            )
        if context is not None:
            parts.append(context)
        return "\n\n".join(parts)

    @property
    def json_schema(self) -> dict[str, Any] | None:
        return None if self.output is None else input_schema(self.output)


class AgentInfo(msgspec.Struct, frozen=True):
    """An agent as ``GET /api/v1/agents`` lists it."""

    name: str
    title: str
    description: str
    needs_track: bool
    structured: bool
    tools: list[str]


_READ = ("get_track", "get_analysis_section", "search_library")

AGENTS: Final[dict[str, Agent]] = {
    a.name: a
    for a in (
        Agent(
            name="track_explainer",
            title="Track explainer",
            description="What the analysis means: key and Camelot neighbours, tempo, energy, "
            "structure.",
            prompt="""You explain a track's analysis to its owner. Say what the key and its \
Camelot code mean for mixing (name the compatible codes), how sure the analysis is (tempo \
and key confidence, ambiguous keys), how the energy moves through the sections, and where \
the drops, build-ups and breakdowns are. Relate numbers to what the listener hears.""",
            tools=_READ,
            needs_track=True,
        ),
        Agent(
            name="mix_planner",
            title="Mix planner",
            description="Orders a set by Camelot compatibility, BPM and energy flow, with "
            "transition advice.",
            prompt="""You plan DJ sets from the user's library. Start from the plan_mix \
tool: it orders tracks by Camelot compatibility, tempo (half/double time aware) and an \
energy flow, and gives each transition's key relation, tempo change and adjustment. Use \
search_library to find candidates (by tempo range or compatible_with a Camelot code). \
Explain the order and each transition; change it only for a reason you state. A plan \
lists track ids exactly as the tools gave them.""",
            tools=("plan_mix", *_READ),
            needs_track=False,
            output=MixPlannerReply,
            check=check_set,
            max_tokens=3000,
        ),
        Agent(
            name="stem_advisor",
            title="Stem advisor",
            description="Separation quality, which engine and model to try, loop ideas per stem.",
            prompt="""You advise on a track's stems. Say which stems exist and from which \
engine and model; suggest a model to try when the user wants more or cleaner stems \
(htdemucs for four stems, htdemucs_6s for guitar and piano, htdemucs_ft for quality at \
four times the time); and suggest loops of single stems at bar-aligned positions from the \
analysis, which you may propose with propose_loops (the user confirms before anything is \
saved).""",
            tools=(*_READ, "propose_loops"),
            needs_track=True,
        ),
        Agent(
            name="cue_planner",
            title="Cue and loop planner",
            description="Proposes cue points and loops at the drops, phrases and sections; "
            "they are saved when you confirm.",
            prompt="""You place cue points and loops for DJing a track. Put cues on phrase \
boundaries from the structure and markers: the first downbeat, the build-up, the drop, the \
breakdown, the outro. Hot cues go on free pads (0-based: pad 1 is 0; the cue_points show \
which are taken). Loops are bar-aligned (use the analysis' loop points). Propose them with \
propose_cues and propose_loops: nothing is written until the user confirms, so say what \
you proposed and why.""",
            tools=(*_READ, "propose_cues", "propose_loops"),
            needs_track=True,
        ),
        Agent(
            name="practice_coach",
            title="Practice coach",
            description="A practice plan of loops and tempo steps for the hard parts.",
            prompt="""You coach a musician learning this track. Build a plan of steps: each \
a section or passage (start_ms, end_ms on bar boundaries from the analysis), a tempo in \
per cent that starts slow and steps up towards 100, a number of repeats, and which stem \
to mute or solo (e.g. mute the instrument being practised). Keep the plan to what fits \
one session.""",
            tools=("get_track", "get_analysis_section"),
            needs_track=True,
            output=PracticeReply,
            check=check_practice,
            max_tokens=2500,
        ),
    )
}


def info(agent: Agent) -> AgentInfo:
    return AgentInfo(
        agent.name,
        agent.title,
        agent.description,
        agent.needs_track,
        agent.output is not None,
        list(agent.tools),
    )
