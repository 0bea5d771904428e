"""``/api/v1/agents``: chat with the agents that know your tracks, their conversations and
proposals, and the deterministic mix plan.

* ``GET /agents``: the agents, and whether an AI model is configured for you;
* ``POST /agents/<agent>/chat`` (``message``, ``track_id``?, ``conversation_id``?): one turn,
  streamed as ``text/event-stream``. Events (``event:`` the type, ``data:`` JSON):
  ``conversation``, ``text``, ``tool``, ``proposal``, ``structured``, ``done``, ``error``
  (``soundforge.agents.events``). Problems found before the turn starts are ordinary JSON
  errors: an unknown agent, another user's track or conversation (404), a missing
  ``track_id`` (422).
* Without any AI provider the chat still answers **200** with an ``error`` event of kind
  ``no_provider`` whose message says how to add one (Settings → AI providers, or the
  server's environment variables), so a chat panel shows it in the conversation like any
  reply. ``GET /agents`` says so up front (``model_configured``).
* ``GET /agents/conversations`` (``track_id``, ``agent``, ``limit``),
  ``GET|DELETE /agents/conversations/<id>``;
* ``POST /agents/conversations/<id>/confirm`` and ``…/dismiss`` (``proposal_id``): write a
  proposal's cues or loops (``source = 'agent'``), or drop it;
* ``POST /agents/mix-plan`` (``track_ids``?, ``flow``, ``limit``): the deterministic plan,
  no model needed.

    curl -N -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"message": "Where are the drops?", "track_id": "'$TRACK'"}' \\
         "$SF/api/v1/agents/track_explainer/chat"
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

import msgspec
from quart import Blueprint, Response

from soundforge.actors import repo
from soundforge.agents import (
    AGENTS,
    FLOWS,
    AgentEvent,
    AgentInfo,
    Conversation,
    ConversationSummary,
    Failed,
    MixPlan,
    Proposal,
    UnknownAgent,
    confirm_proposal,
    delete_conversation,
    dismiss_proposal,
    get_conversation,
    info,
    list_conversations,
    plan_mix,
    run_agent,
)
from soundforge.agents.planner import MAX_SET
from soundforge.llm import NoProviderConfigured, RegistryNotRunning, chain, llm_context
from soundforge.web.api._common import NO_NUL, Id, Page, connection, transaction
from soundforge.web.auth import require_user
from soundforge.web.context import web
from soundforge.web.http import json_response, read_body, read_query
from soundforge.web.openapi import operation

__all__ = [
    "AgentList",
    "ChatBody",
    "ConversationQuery",
    "MixPlanBody",
    "ProposalBody",
    "blueprint",
]

blueprint = Blueprint("agents", __name__)

EVENT_STREAM = "text/event-stream"


class AgentList(msgspec.Struct, frozen=True):
    agents: list[AgentInfo]
    #: Whether any AI provider (yours or the server's) is configured.
    model_configured: bool
    #: When none is: how to add one, in one sentence.
    how_to_configure: str | None


class ChatBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
    #: The track the chat is about (agents that work on one track need it).
    track_id: Id | None = None
    #: Continue this conversation (its track and agent stay).
    conversation_id: Id | None = None


class ConversationQuery(msgspec.Struct, frozen=True, kw_only=True):
    track_id: Id | None = None
    agent: Id | None = None
    limit: Page = 50


class ProposalBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    proposal_id: Id


class MixPlanBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The tracks to order; none: your most recently added analysed tracks.
    track_ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_SET)] | None = None
    flow: Literal["rising", "peak", "steady"] = "rising"
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_SET)] = 20


async def _configured(conn: Any, user_id: str) -> str | None:
    """None when the user has a provider to chat with; else the sentence saying how to add
    one (or that the server's model registry is not running)."""
    try:
        targets = await chain(conn, llm_context(), user_id)
    except RegistryNotRunning as error:
        return error.message
    return None if targets else NoProviderConfigured().message


@blueprint.get("/agents")
@operation("The agents, and whether an AI model is configured", tag="agents", response=AgentList)
async def agents() -> Response:
    user = require_user()
    async with connection() as conn:
        missing = await _configured(conn, user.id)
    return json_response(AgentList([info(a) for a in AGENTS.values()], missing is None, missing))


def _sse(event: AgentEvent) -> bytes:
    data = msgspec.json.encode(event)
    kind = str(type(event).__struct_config__.tag)
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


@blueprint.post("/agents/<agent>/chat")
@operation(
    "Chat with an agent: one turn, streamed as server-sent events",
    tag="agents",
    body=ChatBody,
    media_type=EVENT_STREAM,
    errors=(404, 422),
    description="Events: conversation, text, tool, proposal, structured, done, error. "
    "Without an AI provider: 200 with one error event of kind no_provider.",
)
async def chat(agent: str) -> Response:
    user = require_user()
    body = await read_body(ChatBody)
    repo_name = web().repo

    def connect() -> AbstractAsyncContextManager[Any]:
        return repo.connection(repo_name)

    if agent not in AGENTS:
        raise UnknownAgent(f"there is no agent {agent[:64]!r}; use one of {', '.join(AGENTS)}")
    async with connection() as conn:
        missing = await _configured(conn, user.id)
    if missing is not None:
        # Nothing is stored: the answer says how to add a model, as the turn's one event.
        return Response(_sse(Failed("no_provider", missing)), content_type=EVENT_STREAM)
    turn = run_agent(
        connect,
        user.id,
        agent,
        body.message,
        track_id=body.track_id,
        conversation_id=body.conversation_id,
    )
    # The first event is awaited here, so what fails before the turn (unknown agent,
    # another user's track) is an ordinary JSON error with its status.
    first = await anext(turn)

    async def stream() -> AsyncIterator[bytes]:
        yield _sse(first)
        async for event in turn:
            yield _sse(event)

    return Response(
        stream(),
        content_type=EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@blueprint.get("/agents/conversations")
@operation(
    "Your agent conversations, the most recent first",
    tag="agents",
    query=ConversationQuery,
    response=list[ConversationSummary],
)
async def conversations() -> Response:
    user = require_user()
    query = read_query(ConversationQuery)
    async with connection() as conn:
        found = await list_conversations(
            conn, user.id, track_id=query.track_id, agent=query.agent, limit=query.limit
        )
    return json_response(found)


@blueprint.get("/agents/conversations/<conversation_id>")
@operation(
    "One conversation with its messages and proposals",
    tag="agents",
    response=Conversation,
    errors=(404,),
)
async def conversation(conversation_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        return json_response(await get_conversation(conn, user.id, conversation_id))


@blueprint.delete("/agents/conversations/<conversation_id>")
@operation("Delete a conversation", tag="agents", status=204, errors=(404,))
async def delete(conversation_id: str) -> Response:
    user = require_user()
    async with connection() as conn:
        await delete_conversation(conn, user.id, conversation_id)
    return Response(status=204)


@blueprint.post("/agents/conversations/<conversation_id>/confirm")
@operation(
    "Confirm a proposal: write its cue points or loops",
    tag="agents",
    body=ProposalBody,
    response=Proposal,
    errors=(404, 409),
)
async def confirm(conversation_id: str) -> Response:
    user = require_user()
    body = await read_body(ProposalBody)
    async with transaction() as conn:
        proposal = await confirm_proposal(conn, user.id, conversation_id, body.proposal_id)
    return json_response(proposal)


@blueprint.post("/agents/conversations/<conversation_id>/dismiss")
@operation(
    "Dismiss a proposal: nothing is written",
    tag="agents",
    body=ProposalBody,
    response=Proposal,
    errors=(404, 409),
)
async def dismiss(conversation_id: str) -> Response:
    user = require_user()
    body = await read_body(ProposalBody)
    async with transaction() as conn:
        proposal = await dismiss_proposal(conn, user.id, conversation_id, body.proposal_id)
    return json_response(proposal)


@blueprint.post("/agents/mix-plan")
@operation(
    "Order tracks for a DJ set by Camelot, BPM and energy flow (no model needed)",
    tag="agents",
    body=MixPlanBody,
    response=MixPlan,
    errors=(404, 422),
    description=f"Flows: {', '.join(FLOWS)}.",
)
async def mix_plan() -> Response:
    user = require_user()
    body = await read_body(MixPlanBody)
    async with connection() as conn:
        plan = await plan_mix(conn, user.id, body.track_ids, flow=body.flow, limit=body.limit)
    return json_response(plan)
