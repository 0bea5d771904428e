"""Cue and loop proposals: what an agent may suggest writing, checked against the track,
kept pending on the conversation, and written only when the user confirms.

This is the "writes after confirmation" rule. The ``propose_cues`` / ``propose_loops`` tools
call :func:`validate_cues` / :func:`validate_loops`: positions inside the track, a free hot
cue pad, a stem the track has, labels and colours the database accepts. A valid proposal is
stored as a :class:`Proposal` block inside the conversation's tool message (status
``pending``) and shown to the user with Confirm and Dismiss buttons. Only
:func:`confirm_proposal`, called by ``POST /api/v1/agents/conversations/<id>/confirm``, writes
rows, to ``cue_points`` and ``loops`` with ``source = 'agent'``, in one transaction that
also marks the proposal confirmed; a second confirmation is a 409.

Hot cue indexes are 0-based as stored (pad 1 is 0), and positions integer milliseconds.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final, Literal

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import msgspec

from soundforge.agents.errors import InvalidProposal, ProposalConflict, ProposalNotFound
from soundforge.music.library import get_owned_track

__all__ = [
    "MAX_ITEMS",
    "Proposal",
    "ProposedCue",
    "ProposedLoop",
    "confirm_proposal",
    "dismiss_proposal",
    "new_proposal",
    "validate_cues",
    "validate_loops",
]

#: The most cues or loops one proposal holds.
MAX_ITEMS: Final = 16

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern="^[^\x00]*$")]
Color = Annotated[str, msgspec.Meta(pattern="^#[0-9a-fA-F]{6}$")]
Ms = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class ProposedCue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: "hot" (a numbered pad) or "memory" (a marker).
    kind: Literal["hot", "memory"] = "memory"
    #: The pad of a hot cue, 0-based (pad 1 is 0); none for memory cues.
    hot_index: Annotated[int, msgspec.Meta(ge=0, le=15)] | None = None
    position_ms: Ms
    label: Label | None = None
    color: Color | None = None
    confidence: Unit | None = None


class ProposedLoop(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    start_ms: Ms
    end_ms: Ms
    bars: Annotated[float, msgspec.Meta(gt=0, le=1024)] | None = None
    label: Label | None = None
    color: Color | None = None
    #: A stem name of the track ("drums"), to loop that stem only.
    stem: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    #: Filled in by validation from ``stem``.
    stem_id: str | None = None
    score: Unit | None = None


class Proposal(msgspec.Struct, frozen=True, kw_only=True, tag="proposal", tag_field="type"):
    """A pending (then confirmed or dismissed) set of cues or loops for one track."""

    id: str
    kind: Literal["cues", "loops"]
    track_id: str
    cues: list[ProposedCue] = []
    loops: list[ProposedLoop] = []
    note: str | None = None
    status: Literal["pending", "confirmed", "dismissed"] = "pending"
    #: The rows written on confirmation.
    created_ids: list[str] = []


def new_proposal(
    kind: Literal["cues", "loops"],
    track_id: str,
    *,
    cues: list[ProposedCue] | None = None,
    loops: list[ProposedLoop] | None = None,
    note: str | None = None,
) -> Proposal:
    return Proposal(
        id=str(uuid.uuid4()),
        kind=kind,
        track_id=track_id,
        cues=cues or [],
        loops=loops or [],
        note=note,
    )


def _at(ms: int) -> str:
    return f"{ms // 60000}:{ms // 1000 % 60:02d}"


async def _duration(conn: Any, user_id: str, track_id: str) -> int | None:
    track = await get_owned_track(conn, user_id, track_id)
    if track.duration_ms is not None:
        return int(track.duration_ms)
    value = await conn.fetchval(
        "SELECT duration_ms FROM analyses WHERE track_id = $1::uuid AND is_current", track.id
    )
    return None if value is None else int(value)


async def validate_cues(
    conn: Any, user_id: str, track_id: str, cues: list[ProposedCue]
) -> list[ProposedCue]:
    """The cues, checked against the user's track; InvalidProposal says what is wrong."""
    if not 1 <= len(cues) <= MAX_ITEMS:
        raise InvalidProposal(f"propose between 1 and {MAX_ITEMS} cues, not {len(cues)}")
    duration = await _duration(conn, user_id, track_id)
    taken = {
        int(r["hot_index"])
        for r in await conn.fetch(
            "SELECT hot_index FROM cue_points WHERE track_id = $1::uuid AND hot_index IS NOT NULL",
            track_id,
        )
    }
    seen: set[int] = set()
    for cue in cues:
        if duration is not None and cue.position_ms >= duration:
            raise InvalidProposal(
                f"a cue at {_at(cue.position_ms)} is past the end of the track ({_at(duration)})"
            )
        if cue.kind == "hot" and cue.hot_index is None:
            raise InvalidProposal("a hot cue needs a hot_index (0-15); use kind 'memory' for none")
        if cue.kind == "memory" and cue.hot_index is not None:
            raise InvalidProposal("a memory cue has no hot_index; use kind 'hot' for a pad")
        if cue.hot_index is not None:
            if cue.hot_index in taken:
                raise InvalidProposal(
                    f"hot cue pad {cue.hot_index} is already set on this track; "
                    f"free pads: {sorted(set(range(16)) - taken - seen)}"
                )
            if cue.hot_index in seen:
                raise InvalidProposal(f"hot cue pad {cue.hot_index} is proposed twice")
            seen.add(cue.hot_index)
    return sorted(cues, key=lambda c: c.position_ms)


async def validate_loops(
    conn: Any, user_id: str, track_id: str, loops: list[ProposedLoop]
) -> list[ProposedLoop]:
    """The loops, checked against the user's track, each stem name resolved to its stem."""
    if not 1 <= len(loops) <= MAX_ITEMS:
        raise InvalidProposal(f"propose between 1 and {MAX_ITEMS} loops, not {len(loops)}")
    duration = await _duration(conn, user_id, track_id)
    stems = {
        r["stem"]: r["id"]
        for r in await conn.fetch(
            """SELECT DISTINCT ON (stem) stem, id::text FROM stems
               WHERE track_id = $1::uuid AND version = 1 ORDER BY stem, created_at DESC""",
            track_id,
        )
    }
    checked = []
    for loop in loops:
        if loop.end_ms <= loop.start_ms:
            raise InvalidProposal(f"the loop at {_at(loop.start_ms)} must end after it starts")
        if duration is not None and loop.end_ms > duration:
            raise InvalidProposal(
                f"the loop {_at(loop.start_ms)}–{_at(loop.end_ms)} runs past the end of the "
                f"track ({_at(duration)})"
            )
        stem_id = None
        if loop.stem is not None:
            stem_id = stems.get(loop.stem)
            if stem_id is None:
                have = ", ".join(sorted(stems)) or "none (it has not been separated)"
                raise InvalidProposal(f"this track has no {loop.stem!r} stem; its stems: {have}")
        checked.append(msgspec.structs.replace(loop, stem_id=stem_id))
    return sorted(checked, key=lambda lp: lp.start_ms)


# -- confirmation -----------------------------------------------------------------------------

_FIND: Final = """
    SELECT m.id, m.content::text AS content FROM agent_messages m
    JOIN agent_conversations c ON c.id = m.conversation_id
    WHERE c.id = $1::uuid AND c.user_id = $2::uuid AND m.role = 'tool'
      AND m.content @> $3::jsonb
    FOR UPDATE OF m"""

_blocks = msgspec.json.Decoder(list[dict[str, Any]])


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ProposalNotFound(f"there is no {what} {value[:64]!r}") from None


async def _pending(
    conn: Any, user_id: str, conversation_id: str, proposal_id: str
) -> tuple[int, list[dict[str, Any]], int, Proposal]:
    conversation_id = _uuid(conversation_id, "conversation")
    proposal_id = _uuid(proposal_id, "proposal")
    probe = msgspec.json.encode([{"type": "proposal", "id": proposal_id}]).decode()
    row = await conn.fetchrow(_FIND, conversation_id, user_id, probe)
    if row is None:
        raise ProposalNotFound(f"this conversation has no proposal {proposal_id}")
    blocks = _blocks.decode(row["content"])
    index = next(
        i
        for i, b in enumerate(blocks)
        if b.get("type") == "proposal" and b.get("id") == proposal_id
    )
    proposal = msgspec.convert(blocks[index], Proposal)
    if proposal.status != "pending":
        raise ProposalConflict(f"this proposal was already {proposal.status}")
    return int(row["id"]), blocks, index, proposal


async def _store(
    conn: Any, message_id: int, blocks: list[dict[str, Any]], index: int, proposal: Proposal
) -> None:
    blocks[index] = msgspec.to_builtins(proposal)
    await conn.execute(
        "UPDATE agent_messages SET content = $2::jsonb WHERE id = $1",
        message_id,
        msgspec.json.encode(blocks).decode(),
    )


async def confirm_proposal(
    conn: Any, user_id: str, conversation_id: str, proposal_id: str
) -> Proposal:
    """Write the proposal's cues or loops (``source = 'agent'``) and mark it confirmed.

    ``conn`` must be in a transaction: the rows and the mark commit together."""
    message_id, blocks, index, proposal = await _pending(
        conn, user_id, conversation_id, proposal_id
    )
    await get_owned_track(conn, user_id, proposal.track_id)
    created: list[str] = []
    try:
        for cue in proposal.cues:
            created.append(
                await conn.fetchval(
                    """INSERT INTO cue_points (track_id, kind, hot_index, position_ms, label,
                           color, source, confidence)
                       VALUES ($1::uuid, $2, $3, $4, $5, $6, 'agent', $7) RETURNING id::text""",
                    proposal.track_id,
                    cue.kind,
                    cue.hot_index,
                    cue.position_ms,
                    cue.label,
                    cue.color,
                    cue.confidence,
                )
            )
        for loop in proposal.loops:
            created.append(
                await conn.fetchval(
                    """INSERT INTO loops (track_id, stem_id, start_ms, end_ms, bars, label, color,
                           source, score)
                       VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, 'agent', $8)
                       RETURNING id::text""",
                    proposal.track_id,
                    loop.stem_id,
                    loop.start_ms,
                    loop.end_ms,
                    loop.bars,
                    loop.label,
                    loop.color,
                    loop.score,
                )
            )
    except asyncpg.UniqueViolationError:
        raise ProposalConflict(
            "a hot cue pad of this proposal was set since it was made; "
            "clear that pad or dismiss the proposal"
        ) from None
    except asyncpg.ForeignKeyViolationError:
        raise ProposalConflict(
            "a stem this proposal loops was deleted since it was made; dismiss the proposal"
        ) from None
    confirmed = msgspec.structs.replace(proposal, status="confirmed", created_ids=created)
    await _store(conn, message_id, blocks, index, confirmed)
    return confirmed


async def dismiss_proposal(
    conn: Any, user_id: str, conversation_id: str, proposal_id: str
) -> Proposal:
    """Mark the proposal dismissed; nothing is written."""
    message_id, blocks, index, proposal = await _pending(
        conn, user_id, conversation_id, proposal_id
    )
    dismissed = msgspec.structs.replace(proposal, status="dismissed")
    await _store(conn, message_id, blocks, index, dismissed)
    return dismissed
