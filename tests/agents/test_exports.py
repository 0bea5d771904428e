"""The package's public names are pinned: a change to them is a change to the contract."""

from __future__ import annotations

import soundforge.agents as agents

PUBLIC = {
    "AGENTS", "FLOWS", "MAX_ROUNDS", "Agent", "AgentError", "AgentEvent", "AgentInfo",
    "Connect", "Conversation", "ConversationNotFound", "ConversationSummary", "Done",
    "Failed", "InvalidProposal", "KeyRelation", "MixPlan", "Neighbour", "PlanTrack",
    "PlannerTrack", "Proposal", "ProposalConflict", "ProposalMade", "ProposalNotFound",
    "ProposedCue", "ProposedLoop", "Started", "StoredMessage", "Structured",
    "StructuredOutputInvalid", "TextChunk", "ToolActivity", "ToolRoundsExceeded",
    "TrackContext", "TrackRequired", "Transition", "UnknownAgent", "confirm_proposal",
    "context_from", "delete_conversation", "dismiss_proposal", "get_conversation", "info",
    "list_conversations", "neighbours", "order_tracks", "plan_mix", "relation",
    "render_context", "run_agent", "track_context",
}  # fmt: skip


def test_exports() -> None:
    assert set(agents.__all__) == PUBLIC
    assert all(hasattr(agents, name) for name in agents.__all__)


def test_the_five_agents() -> None:
    assert list(agents.AGENTS) == [
        "track_explainer", "mix_planner", "stem_advisor", "cue_planner", "practice_coach",
    ]  # fmt: skip
    structured = {name for name, agent in agents.AGENTS.items() if agent.output is not None}
    assert structured == {"mix_planner", "practice_coach"}
    for agent in agents.AGENTS.values():
        schema = agent.json_schema
        assert schema is None or ("$ref" not in str(schema) and schema["type"] == "object")
