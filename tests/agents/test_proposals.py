"""Proposals: validated against the track, written only on confirmation, once."""

from __future__ import annotations

from typing import Any

import pytest

from soundforge.agents import (
    InvalidProposal,
    ProposalConflict,
    ProposalNotFound,
    ProposedCue,
    ProposedLoop,
    confirm_proposal,
    dismiss_proposal,
)
from soundforge.agents.conversations import add_message, create_conversation
from soundforge.agents.proposals import new_proposal, validate_cues, validate_loops
from soundforge.llm.messages import ToolResultBlock
from soundforge.music import TrackNotFound
from tests.agents import library


async def test_cues_are_checked_against_the_track(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner, other = await library.user(conn), await library.user(conn, "other")
        track_id = await library.track(conn, owner)
        await library.hot_cue(conn, track_id, 0, 480)

        ok = await validate_cues(
            conn,
            owner,
            track_id,
            [
                ProposedCue(kind="hot", hot_index=2, position_ms=139_320, label="Drop 2"),
                ProposedCue(kind="hot", hot_index=1, position_ms=46_440, label="Drop"),
            ],
        )
        assert [c.position_ms for c in ok] == [46_440, 139_320]  # in time order

        bad = {
            "past the end": [ProposedCue(position_ms=250_000)],
            "already set": [ProposedCue(kind="hot", hot_index=0, position_ms=1000)],
            "proposed twice": [
                ProposedCue(kind="hot", hot_index=3, position_ms=1000),
                ProposedCue(kind="hot", hot_index=3, position_ms=2000),
            ],
            "needs a hot_index": [ProposedCue(kind="hot", position_ms=1000)],
            "has no hot_index": [ProposedCue(kind="memory", hot_index=4, position_ms=1000)],
            "between 1 and": [],
        }
        for words, cues in bad.items():
            with pytest.raises(InvalidProposal, match=words):
                await validate_cues(conn, owner, track_id, cues)
        with pytest.raises(TrackNotFound):
            await validate_cues(conn, other, track_id, [ProposedCue(position_ms=0)])


async def test_loops_resolve_their_stem(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        [loop] = await validate_loops(
            conn, owner, track_id, [ProposedLoop(start_ms=46_440, end_ms=61_920, stem="drums")]
        )
        drums = await conn.fetchval(
            "SELECT id::text FROM stems WHERE track_id = $1::uuid AND stem = 'drums'", track_id
        )
        assert loop.stem_id == drums
        with pytest.raises(InvalidProposal, match="no 'guitar' stem"):
            await validate_loops(
                conn, owner, track_id, [ProposedLoop(start_ms=0, end_ms=1000, stem="guitar")]
            )
        with pytest.raises(InvalidProposal, match="must end after"):
            await validate_loops(conn, owner, track_id, [ProposedLoop(start_ms=5, end_ms=5)])
        with pytest.raises(InvalidProposal, match="past the end"):
            await validate_loops(
                conn, owner, track_id, [ProposedLoop(start_ms=239_000, end_ms=241_000)]
            )


async def _pending(conn: Any, owner: str, track_id: str, proposal: Any) -> str:
    conversation = await create_conversation(conn, owner, "cue_planner", track_id, "cues")
    await add_message(
        conn, conversation.id, "tool", [ToolResultBlock("toolu_1", "stored"), proposal]
    )
    return conversation.id


async def test_confirming_writes_the_rows_once(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner, other = await library.user(conn), await library.user(conn, "other")
        track_id = await library.track(conn, owner)
        cues = [ProposedCue(kind="hot", hot_index=1, position_ms=46_440, label="Drop")]
        proposal = new_proposal("cues", track_id, cues=cues, note="the drop")
        conversation_id = await _pending(conn, owner, track_id, proposal)
        assert await conn.fetchval("SELECT count(*) FROM cue_points") == 0

        with pytest.raises(ProposalNotFound):
            async with conn.transaction():
                await confirm_proposal(conn, other, conversation_id, proposal.id)
        async with conn.transaction():
            confirmed = await confirm_proposal(conn, owner, conversation_id, proposal.id)
        assert confirmed.status == "confirmed" and len(confirmed.created_ids) == 1
        row = await conn.fetchrow(
            "SELECT kind, hot_index, position_ms, label, source FROM cue_points"
        )
        assert tuple(row) == ("hot", 1, 46_440, "Drop", "agent")
        with pytest.raises(ProposalConflict, match="already confirmed"):
            async with conn.transaction():
                await confirm_proposal(conn, owner, conversation_id, proposal.id)
        stored = await conn.fetchval(
            "SELECT content->1->>'status' FROM agent_messages WHERE role = 'tool'"
        )
        assert stored == "confirmed"


async def test_loops_are_written_with_their_stem(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        loops = await validate_loops(
            conn,
            owner,
            track_id,
            [ProposedLoop(start_ms=46_440, end_ms=61_920, bars=8, label="drop", stem="drums")],
        )
        proposal = new_proposal("loops", track_id, loops=loops)
        conversation_id = await _pending(conn, owner, track_id, proposal)
        async with conn.transaction():
            await confirm_proposal(conn, owner, conversation_id, proposal.id)
        row = await conn.fetchrow(
            """SELECT l.start_ms, l.end_ms, l.bars, l.source, s.stem FROM loops l
               JOIN stems s ON s.id = l.stem_id"""
        )
        assert tuple(row) == (46_440, 61_920, 8.0, "agent", "drums")


async def test_a_pad_taken_since_is_a_conflict_and_nothing_is_written(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        cues = [
            ProposedCue(kind="memory", position_ms=480),
            ProposedCue(kind="hot", hot_index=5, position_ms=46_440),
        ]
        proposal = new_proposal("cues", track_id, cues=cues)
        conversation_id = await _pending(conn, owner, track_id, proposal)
        await library.hot_cue(conn, track_id, 5, 1000)
        with pytest.raises(ProposalConflict, match="pad"):
            async with conn.transaction():
                await confirm_proposal(conn, owner, conversation_id, proposal.id)
        assert await conn.fetchval("SELECT count(*) FROM cue_points") == 1  # only the user's


async def test_dismissing_writes_nothing(db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        owner = await library.user(conn)
        track_id = await library.track(conn, owner)
        proposal = new_proposal("cues", track_id, cues=[ProposedCue(position_ms=480)])
        conversation_id = await _pending(conn, owner, track_id, proposal)
        async with conn.transaction():
            dismissed = await dismiss_proposal(conn, owner, conversation_id, proposal.id)
        assert dismissed.status == "dismissed"
        with pytest.raises(ProposalConflict, match="already dismissed"):
            async with conn.transaction():
                await confirm_proposal(conn, owner, conversation_id, proposal.id)
        assert await conn.fetchval("SELECT count(*) FROM cue_points") == 0
        with pytest.raises(ProposalNotFound):
            await dismiss_proposal(conn, owner, conversation_id, "junk")
