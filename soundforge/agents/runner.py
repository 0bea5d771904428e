"""One chat turn of an agent: the tool-use loop, persistence, and the events a chat panel
streams.

:func:`run_agent` is an async generator of :data:`AgentEvent`. It opens (or continues) the
conversation, stores the user's message, then asks the model, through
``soundforge.llm.stream_chat`` (the router: the user's providers, then the system ones, with
fallback), with the agent's system prompt, the track's context and the agent's tools:

1. text deltas go out as they arrive (structured agents excepted: their JSON is checked
   first and sent as one ``structured`` event with its ``reply`` as text);
2. tool calls run (``tools.run_tool``, with the user's ownership), their results and any
   proposals are stored, and the model is asked again, at most :data:`MAX_ROUNDS` times;
3. a structured reply that fails validation gets one repair turn; a second failure is an
   ``error`` event of kind ``invalid_output``.

Connections are taken per step from ``connect`` (an async context manager factory: the
Repo's in the server, a pool's in tests) and never held while the model streams.
Failures reach the caller as one ``error`` event with a kind and a sentence, never as an
exception: ``no_provider`` (with how to add one), ``all_failed``, ``interrupted``,
``too_many_rounds``, ``invalid_output``, ``provider_error``. Errors that happen before the
turn starts (an unknown agent, another user's track or conversation) are raised, so the
API answers them with their status.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import msgspec

from soundforge.agents.catalog import AGENTS, Agent
from soundforge.agents.context import TrackContext, render_context, track_context
from soundforge.agents.conversations import (
    ConversationSummary,
    StoredBlock,
    add_message,
    create_conversation,
    get_conversation,
    history,
    owned_conversation,
)
from soundforge.agents.errors import (
    AgentError,
    ConversationNotFound,
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
from soundforge.agents.outputs import parse_reply
from soundforge.agents.proposals import Proposal
from soundforge.agents.tools import TOOLS, ToolContext, run_tool
from soundforge.llm import (
    AllProvidersFailed,
    ChatRequest,
    Finished,
    LlmError,
    Message,
    NoProviderConfigured,
    StreamInterrupted,
    TextBlock,
    TextDelta,
    ToolCall,
    ToolResultBlock,
    ToolUseBlock,
    stream_chat,
)

__all__ = ["MAX_ROUNDS", "Connect", "run_agent"]

log = logging.getLogger(__name__)

#: Model turns one chat turn may take (tool rounds plus the answer).
MAX_ROUNDS: Final = 6

Connect = Callable[[], AbstractAsyncContextManager[Any]]


def _agent(name: str) -> Agent:
    agent = AGENTS.get(name)
    if agent is None:
        raise UnknownAgent(f"there is no agent {name[:64]!r}; use one of {', '.join(AGENTS)}")
    return agent


async def _open(
    connect: Connect,
    user_id: str,
    agent: Agent,
    message: str,
    track_id: str | None,
    conversation_id: str | None,
) -> tuple[ConversationSummary, TrackContext | None]:
    async with connect() as conn:
        if conversation_id is not None:
            conversation = await owned_conversation(conn, user_id, conversation_id)
            if conversation.agent != agent.name:
                raise ConversationNotFound(
                    f"conversation {conversation.id} belongs to the {conversation.agent} agent"
                )
        else:
            if agent.needs_track and track_id is None:
                raise TrackRequired(
                    f"the {agent.title.lower()} works on one track: send its track_id"
                )
            conversation = await create_conversation(conn, user_id, agent.name, track_id, message)
        context = None
        if conversation.track_id is not None:
            context = await track_context(conn, user_id, conversation.track_id)
        await add_message(conn, conversation.id, "user", [TextBlock(message)])
    return conversation, context


async def run_agent(
    connect: Connect,
    user_id: str,
    agent_name: str,
    message: str,
    *,
    track_id: str | None = None,
    conversation_id: str | None = None,
) -> AsyncIterator[AgentEvent]:
    """Run one turn; see the module docstring. Raises only before the first event."""
    agent = _agent(agent_name)
    conversation, context = await _open(connect, user_id, agent, message, track_id, conversation_id)
    yield Started(conversation.id, agent.name, conversation.track_id)
    try:
        async for event in _turn(connect, user_id, agent, conversation, context):
            yield event
    except NoProviderConfigured as error:
        yield Failed("no_provider", error.message)
    except AllProvidersFailed as error:
        yield Failed("all_failed", error.message)
    except StreamInterrupted as error:
        yield Failed("interrupted", error.message)
    except ToolRoundsExceeded as error:
        yield Failed("too_many_rounds", error.message)
    except StructuredOutputInvalid as error:
        yield Failed("invalid_output", f"The model's answer was not a valid plan: {error.message}.")
    except (LlmError, AgentError) as error:
        yield Failed("provider_error", error.message)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


async def _turn(
    connect: Connect,
    user_id: str,
    agent: Agent,
    conversation: ConversationSummary,
    context: TrackContext | None,
) -> AsyncIterator[AgentEvent]:
    system = agent.system(None if context is None else render_context(context))
    tools = [TOOLS[name].spec for name in agent.tools]
    async with connect() as conn:
        messages = history((await get_conversation(conn, user_id, conversation.id)).messages)
    usage = [0, 0]
    repaired = False
    for _round in range(MAX_ROUNDS):
        request = ChatRequest(
            system=system,
            messages=messages,
            tools=tools,
            max_tokens=agent.max_tokens,
            json_schema=agent.json_schema,
        )
        text: list[str] = []
        calls: list[ToolCall] = []
        finished: Finished | None = None
        async with connect() as conn:
            stream = stream_chat(conn, user_id, request)
            async for event in stream:
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    if agent.output is None:
                        yield TextChunk(event.text)
                elif isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, Finished):
                    finished = event
        if finished is None:  # the router always ends with Finished; be safe about it
            finished = Finished("end_turn", "unknown", "unknown", 0, 0)
        usage[0] += finished.input_tokens
        usage[1] += finished.output_tokens
        reply = "".join(text)
        blocks: list[StoredBlock] = [TextBlock(reply)] if reply else []
        blocks += [ToolUseBlock(c.id, c.name, c.input) for c in calls]
        if calls:
            async with connect() as conn:
                await _store_assistant(conn, conversation.id, blocks, finished)
                results: list[StoredBlock] = []
                proposals: list[Proposal] = []
                ctx = ToolContext(conn, user_id, conversation.track_id)
                for call in calls:
                    yield ToolActivity(call.id, call.name, "running", call.input)
                    outcome = await run_tool(ctx, call.name, call.input)
                    results.append(ToolResultBlock(call.id, outcome.content, outcome.is_error))
                    yield ToolActivity(
                        call.id, call.name, "error" if outcome.is_error else "done", call.input
                    )
                    if outcome.proposal is not None:
                        proposals.append(outcome.proposal)
                await add_message(conn, conversation.id, "tool", results + list(proposals))
            for proposal in proposals:
                yield ProposalMade(conversation.id, proposal)
            messages = [
                *messages,
                Message("assistant", [b for b in blocks if not isinstance(b, Proposal)]),
                Message("user", [b for b in results if isinstance(b, ToolResultBlock)]),
            ]
            continue
        if agent.output is not None:
            try:
                value: Any = parse_reply(reply, agent.output)
                if agent.check is not None:
                    async with connect() as conn:
                        await agent.check(conn, user_id, context, value)
            except StructuredOutputInvalid as error:
                if repaired:
                    raise
                repaired = True
                # One repair turn, kept out of the stored conversation: the user sees the
                # valid answer only.
                messages = [
                    *messages,
                    Message("assistant", [TextBlock(reply or "(empty)")]),
                    Message(
                        "user",
                        [
                            TextBlock(
                                f"{_sentence(error.message)}. Answer again with only the JSON "
                                "object that matches the schema."
                            )
                        ],
                    ),
                ]
                continue
            payload = msgspec.to_builtins(value)
            yield Structured(agent.name, payload["reply"], payload.get("plan"))
            yield TextChunk(payload["reply"])
        async with connect() as conn:
            await _store_assistant(conn, conversation.id, blocks, finished)
        yield Done(
            conversation.id,
            finished.provider,
            finished.model,
            usage[0],
            usage[1],
            finished.stop_reason,
        )
        return
    raise ToolRoundsExceeded(
        f"the model was still calling tools after {MAX_ROUNDS} rounds; ask a narrower question"
    )


async def _store_assistant(
    conn: Any, conversation_id: str, blocks: list[StoredBlock], finished: Finished
) -> None:
    await add_message(
        conn,
        conversation_id,
        "assistant",
        blocks or [TextBlock("")],
        provider=finished.provider,
        model=finished.model,
        input_tokens=finished.input_tokens,
        output_tokens=finished.output_tokens,
    )
