"""Agent conversations and their messages, per user (``agent_conversations``,
``agent_messages``).

A message's ``content`` is a list of provider-neutral blocks (``soundforge.llm``'s text,
tool_use and tool_result, Anthropic's shape) plus this package's :class:`Proposal` blocks,
so a conversation continues on another provider after a fallback. Roles: ``user`` (the
person's words), ``assistant`` (a model turn, with the provider, model and tokens that
answered it) and ``tool`` (the results of the tools that turn called, and any proposal they
made). :func:`history` turns the stored rows back into the ``Message`` list a model takes:
tool messages become user turns of tool results (Anthropic's rule), proposals stay out,
and neighbouring turns of one role merge (a turn that failed half way leaves two user
messages in a row).

Every read and write names the user in SQL: another user's conversation is
``ConversationNotFound`` (a 404), like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from soundforge.agents.errors import ConversationNotFound
from soundforge.agents.proposals import Proposal
from soundforge.llm.messages import Block, Message, TextBlock, ToolResultBlock, ToolUseBlock
from soundforge.music.library import get_owned_track

__all__ = [
    "Conversation",
    "ConversationSummary",
    "StoredBlock",
    "StoredMessage",
    "add_message",
    "create_conversation",
    "delete_conversation",
    "get_conversation",
    "history",
    "list_conversations",
    "owned_conversation",
]

StoredBlock = TextBlock | ToolUseBlock | ToolResultBlock | Proposal
Role = Literal["user", "assistant", "tool"]

_TITLE_LENGTH: Final = 200


class ConversationSummary(msgspec.Struct, frozen=True):
    id: str
    agent: str
    track_id: str | None
    title: str | None
    created_at: datetime
    updated_at: datetime


class StoredMessage(msgspec.Struct, frozen=True):
    id: int
    role: Role
    content: list[StoredBlock]
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    created_at: datetime


class Conversation(ConversationSummary, frozen=True):
    messages: list[StoredMessage]

    @property
    def proposals(self) -> list[Proposal]:
        return [b for m in self.messages for b in m.content if isinstance(b, Proposal)]


_SUMMARY: Final = """id::text, agent, track_id::text, title, created_at, updated_at"""
_content = msgspec.json.Decoder(list[StoredBlock])


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ConversationNotFound(f"you have no conversation {value[:64]!r}") from None


async def create_conversation(
    conn: Any, user_id: str, agent: str, track_id: str | None, title: str | None
) -> ConversationSummary:
    """A new conversation; a ``track_id`` that is not the user's is ``TrackNotFound``."""
    if track_id is not None:
        track_id = (await get_owned_track(conn, user_id, track_id)).id
    short = None if title is None else " ".join(title.split())[:_TITLE_LENGTH] or None
    row = await conn.fetchrow(
        f"""INSERT INTO agent_conversations (user_id, agent, track_id, title)
            VALUES ($1::uuid, $2, $3::uuid, $4) RETURNING {_SUMMARY}""",
        user_id,
        agent,
        track_id,
        short,
    )
    return ConversationSummary(**dict(row))


async def owned_conversation(conn: Any, user_id: str, conversation_id: str) -> ConversationSummary:
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY} FROM agent_conversations WHERE id = $1::uuid AND user_id = $2::uuid",
        _uuid(conversation_id),
        user_id,
    )
    if row is None:
        raise ConversationNotFound(f"you have no conversation {conversation_id[:64]}")
    return ConversationSummary(**dict(row))


async def list_conversations(
    conn: Any,
    user_id: str,
    *,
    track_id: str | None = None,
    agent: str | None = None,
    limit: int = 50,
) -> list[ConversationSummary]:
    """The user's conversations, the most recently active first."""
    rows = await conn.fetch(
        f"""SELECT {_SUMMARY} FROM agent_conversations
            WHERE user_id = $1::uuid
              AND ($2::text IS NULL OR track_id::text = $2)
              AND ($3::text IS NULL OR agent = $3)
            ORDER BY updated_at DESC, id LIMIT $4""",
        user_id,
        track_id,
        agent,
        limit,
    )
    return [ConversationSummary(**dict(r)) for r in rows]


def _message(row: Any) -> StoredMessage:
    fields = dict(row)
    fields["content"] = _content.decode(fields["content"])
    return StoredMessage(**fields)


async def get_conversation(conn: Any, user_id: str, conversation_id: str) -> Conversation:
    summary = await owned_conversation(conn, user_id, conversation_id)
    rows = await conn.fetch(
        """SELECT id, role, content::text AS content, provider, model, input_tokens,
                  output_tokens, created_at
           FROM agent_messages WHERE conversation_id = $1::uuid ORDER BY id""",
        summary.id,
    )
    return Conversation(**msgspec.structs.asdict(summary), messages=[_message(r) for r in rows])


async def delete_conversation(conn: Any, user_id: str, conversation_id: str) -> None:
    status = await conn.execute(
        "DELETE FROM agent_conversations WHERE id = $1::uuid AND user_id = $2::uuid",
        _uuid(conversation_id),
        user_id,
    )
    if status == "DELETE 0":
        raise ConversationNotFound(f"you have no conversation {conversation_id[:64]}")


async def add_message(
    conn: Any,
    conversation_id: str,
    role: Role,
    content: list[StoredBlock],
    *,
    provider: str | None = None,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> int:
    """Append a message (the caller owns the conversation) and touch the conversation."""
    message_id = await conn.fetchval(
        """INSERT INTO agent_messages (conversation_id, role, content, provider, model,
               input_tokens, output_tokens)
           VALUES ($1::uuid, $2, $3::jsonb, $4, $5, $6, $7) RETURNING id""",
        conversation_id,
        role,
        msgspec.json.encode(content).decode(),
        provider,
        model,
        input_tokens,
        output_tokens,
    )
    await conn.execute(
        "UPDATE agent_conversations SET updated_at = now() WHERE id = $1::uuid", conversation_id
    )
    return int(message_id)


def history(messages: list[StoredMessage]) -> list[Message]:
    """The stored messages as the model takes them (see the module docstring)."""
    # A turn whose tool calls never got results (it failed between the two) cannot be sent
    # again: those calls are dropped, keeping any text the model wrote with them.
    answered = {
        b.tool_use_id for m in messages for b in m.content if isinstance(b, ToolResultBlock)
    }
    turns: list[Message] = []
    for stored in messages:
        role: Literal["user", "assistant"] = "assistant" if stored.role == "assistant" else "user"
        blocks: list[Block] = [
            b
            for b in stored.content
            if not isinstance(b, Proposal) and (not isinstance(b, ToolUseBlock) or b.id in answered)
        ]
        if not blocks:
            continue
        if turns and turns[-1].role == role:
            turns[-1].content.extend(blocks)
        else:
            turns.append(Message(role, blocks))
    return turns
