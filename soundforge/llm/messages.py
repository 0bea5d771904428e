"""The provider-neutral shape of one model turn: the request and the events it streams.

Blocks follow Anthropic's Messages API (``{"type": "text" | "tool_use" | "tool_result"}``),
which is also how ``agent_messages.content`` stores a conversation, so a conversation can
continue on another provider after a fallback; the OpenAI-compatible client translates.

    request = ChatRequest(
        system="You explain tracks.",
        messages=[Message("user", [TextBlock("What key is this in?")])],
        tools=[ToolSpec("get_track", "Read a track's analysis", {"type": "object"})],
        needs=frozenset({"tool_use"}),
    )
    async for event in stream_chat(conn, user_id, request):
        match event:
            case TextDelta(text=text): ...
            case ToolCall(id=id, name=name, input=args): ...
            case Finished(stop_reason=why, provider=provider, model=model): ...
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

__all__ = [
    "FEATURES",
    "Block",
    "ChatRequest",
    "Finished",
    "Message",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ToolCall",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
]

#: The model features a request may need (``ChatRequest.needs``) and the registry knows.
FEATURES: Final = frozenset({"chat", "tool_use", "json", "vision"})


class ToolSpec(msgspec.Struct, frozen=True):
    """A tool the model may call: its name, what it does, and a JSON Schema of its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


class TextBlock(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ToolUseBlock(msgspec.Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(msgspec.Struct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str
    is_error: bool = False


Block = TextBlock | ToolUseBlock | ToolResultBlock


class Message(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: list[Block]


class ChatRequest(msgspec.Struct):
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = msgspec.field(default_factory=list)
    max_tokens: int = 1024
    #: A JSON Schema the final text must satisfy (JSON output); None: free text.
    json_schema: dict[str, Any] | None = None
    #: Features the model must have: "tool_use", "json", "vision" ...
    needs: frozenset[str] = frozenset()

    def required_features(self) -> frozenset[str]:
        """``needs`` plus what the request itself implies (tools, a JSON schema)."""
        implied = set(self.needs)
        if self.tools:
            implied.add("tool_use")
        if self.json_schema is not None:
            implied.add("json")
        return frozenset(implied)


class TextDelta(msgspec.Struct, tag="text_delta", tag_field="type"):
    text: str


class ToolCall(msgspec.Struct, tag="tool_call", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]


class Finished(msgspec.Struct, tag="finished", tag_field="type"):
    #: "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal" ...
    stop_reason: str
    #: The provider's name as the user sees it (not its key), and the model that answered.
    provider: str
    model: str
    input_tokens: int
    output_tokens: int


StreamEvent = TextDelta | ToolCall | Finished
