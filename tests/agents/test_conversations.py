"""Stored conversations back into model turns, and per-user listing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from soundforge.agents import ConversationNotFound, list_conversations
from soundforge.agents.conversations import (
    StoredMessage,
    create_conversation,
    delete_conversation,
    history,
)
from soundforge.agents.proposals import ProposedCue, new_proposal
from soundforge.llm import Message, TextBlock, ToolResultBlock, ToolUseBlock
from tests.agents import library


def _stored(role: Any, *content: Any) -> StoredMessage:
    return StoredMessage(0, role, list(content), None, None, None, None, datetime.now(UTC))


def test_history_follows_the_providers_rules() -> None:
    proposal = new_proposal("cues", "t", cues=[ProposedCue(position_ms=0)])
    stored = [
        _stored("user", TextBlock("Cue it")),
        _stored("assistant", TextBlock("Looking."), ToolUseBlock("a", "propose_cues", {})),
        _stored("tool", ToolResultBlock("a", "stored"), proposal),
        _stored("assistant", TextBlock("Proposed.")),
        _stored("user", TextBlock("Also loops")),  # this turn failed: no answer stored
        _stored("assistant", ToolUseBlock("b", "get_track", {})),  # and no results either
        _stored("user", TextBlock("Hello?")),
    ]
    assert history(stored) == [
        Message("user", [TextBlock("Cue it")]),
        Message("assistant", [TextBlock("Looking."), ToolUseBlock("a", "propose_cues", {})]),
        Message("user", [ToolResultBlock("a", "stored")]),
        Message("assistant", [TextBlock("Proposed.")]),
        Message("user", [TextBlock("Also loops"), TextBlock("Hello?")]),
    ]


async def test_conversations_are_per_user(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner, other = await library.user(conn), await library.user(conn, "other")
        track_id = await library.track(conn, owner)
        about = await create_conversation(conn, owner, "cue_planner", track_id, "  Cue   it  ")
        await create_conversation(conn, owner, "mix_planner", None, None)
        assert about.title == "Cue it"
        assert [c.agent for c in await list_conversations(conn, owner)] == [
            "mix_planner", "cue_planner",
        ]  # fmt: skip
        mine = await list_conversations(conn, owner, track_id=track_id)
        assert [c.id for c in mine] == [about.id]
        assert await list_conversations(conn, other) == []
        with pytest.raises(ConversationNotFound):
            await delete_conversation(conn, other, about.id)
        await delete_conversation(conn, owner, about.id)
        with pytest.raises(ConversationNotFound):
            await delete_conversation(conn, owner, about.id)
