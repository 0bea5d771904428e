"""What a chat turn streams to its caller: tagged msgspec Structs, one per event, that the
API writes as server-sent events (``event: <type>`` and the Struct as ``data``).

* ``conversation``: the turn started; the conversation's id (new or continued);
* ``text``: a piece of the reply, in order;
* ``tool``: a tool call ``running``, then ``done`` or ``error``;
* ``proposal``: cues or loops waiting for the user's confirmation;
* ``structured``: a planner's validated reply and plan;
* ``done``: the turn ended; the provider and model that answered and the tokens used;
* ``error``: the turn failed; ``kind`` and one sentence (``no_provider`` says how to add one).
"""

from __future__ import annotations

from typing import Any

import msgspec

from soundforge.agents.proposals import Proposal

__all__ = [
    "AgentEvent",
    "Done",
    "Failed",
    "ProposalMade",
    "Started",
    "Structured",
    "TextChunk",
    "ToolActivity",
]


class Started(msgspec.Struct, frozen=True, tag="conversation", tag_field="type"):
    conversation_id: str
    agent: str
    track_id: str | None


class TextChunk(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    text: str


class ToolActivity(msgspec.Struct, frozen=True, tag="tool", tag_field="type"):
    id: str
    name: str
    #: "running", then "done" or "error".
    status: str
    input: dict[str, Any]


class ProposalMade(msgspec.Struct, frozen=True, tag="proposal", tag_field="type"):
    conversation_id: str
    proposal: Proposal


class Structured(msgspec.Struct, frozen=True, tag="structured", tag_field="type"):
    agent: str
    reply: str
    plan: dict[str, Any] | None


class Done(msgspec.Struct, frozen=True, tag="done", tag_field="type"):
    conversation_id: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    stop_reason: str


class Failed(msgspec.Struct, frozen=True, tag="error", tag_field="type"):
    #: no_provider, all_failed, interrupted, too_many_rounds, invalid_output, provider_error.
    kind: str
    message: str


AgentEvent = Started | TextChunk | ToolActivity | ProposalMade | Structured | Done | Failed
