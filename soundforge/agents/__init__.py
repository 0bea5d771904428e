"""Agents that know the track: five chat agents, their tools, and a mix planner that needs
no model.

Each agent (:data:`AGENTS`) gets the track's real data in its prompt (``context``), tools
that read the user's library and propose cue points and loops (written only after the
user confirms, ``proposals``), and, for the planner-like ones, a structured reply that is
validated (``outputs``). :func:`run_agent` runs one chat turn as a stream of events through
``soundforge.llm``'s router; conversations are stored provider-neutrally
(``conversations``). :func:`plan_mix` orders a set by Camelot, BPM and energy flow with no
model at all. ``docs/agents.md`` is the guide.

    async for event in run_agent(connect, user.id, "track_explainer", "What key is this?",
                                 track_id=track_id):
        ...
    plan = await plan_mix(conn, user.id, None, flow="peak")
"""

from soundforge.agents.camelot import KeyRelation, Neighbour, neighbours, relation
from soundforge.agents.catalog import AGENTS, Agent, AgentInfo, info
from soundforge.agents.context import TrackContext, context_from, render_context, track_context
from soundforge.agents.conversations import (
    Conversation,
    ConversationSummary,
    StoredMessage,
    delete_conversation,
    get_conversation,
    list_conversations,
)
from soundforge.agents.errors import (
    AgentError,
    ConversationNotFound,
    InvalidProposal,
    ProposalConflict,
    ProposalNotFound,
    StructuredOutputInvalid,
    ToolRoundsExceeded,
    TrackRequired,
    UnknownAgent,
)
from soundforge.agents.events import (
    AgentEvent,
    Done,
    Failed,
    ProposalMade,
    Started,
    Structured,
    TextChunk,
    ToolActivity,
)
from soundforge.agents.planner import (
    FLOWS,
    MixPlan,
    PlannerTrack,
    PlanTrack,
    Transition,
    order_tracks,
    plan_mix,
)
from soundforge.agents.proposals import (
    Proposal,
    ProposedCue,
    ProposedLoop,
    confirm_proposal,
    dismiss_proposal,
)
from soundforge.agents.runner import MAX_ROUNDS, Connect, run_agent

__all__ = [
    "AGENTS",
    "FLOWS",
    "MAX_ROUNDS",
    "Agent",
    "AgentError",
    "AgentEvent",
    "AgentInfo",
    "Connect",
    "Conversation",
    "ConversationNotFound",
    "ConversationSummary",
    "Done",
    "Failed",
    "InvalidProposal",
    "KeyRelation",
    "MixPlan",
    "Neighbour",
    "PlanTrack",
    "PlannerTrack",
    "Proposal",
    "ProposalConflict",
    "ProposalMade",
    "ProposalNotFound",
    "ProposedCue",
    "ProposedLoop",
    "Started",
    "StoredMessage",
    "Structured",
    "StructuredOutputInvalid",
    "TextChunk",
    "ToolActivity",
    "ToolRoundsExceeded",
    "TrackContext",
    "TrackRequired",
    "Transition",
    "UnknownAgent",
    "confirm_proposal",
    "context_from",
    "delete_conversation",
    "dismiss_proposal",
    "get_conversation",
    "info",
    "list_conversations",
    "neighbours",
    "order_tracks",
    "plan_mix",
    "relation",
    "render_context",
    "run_agent",
    "track_context",
]
