"""The public surface of ``soundforge.llm``: what A's agents and the API import, pinned."""

from __future__ import annotations

import soundforge.llm as llm

SPEC = {
    "ChatRequest",
    "Message",
    "TextBlock",
    "ToolUseBlock",
    "ToolResultBlock",
    "ToolSpec",
    "TextDelta",
    "ToolCall",
    "Finished",
    "StreamEvent",
    "stream_chat",
    "LlmError",
    "NoProviderConfigured",
    "AllProvidersFailed",
}


def test_the_spec_names_are_exported() -> None:
    assert set(llm.__all__) >= SPEC
    assert sorted(llm.__all__) == sorted(set(llm.__all__))
    for name in llm.__all__:
        assert getattr(llm, name) is not None, name


def test_the_private_clients_stay_private() -> None:
    assert not {"AnthropicClient", "OpenAIClient"} & set(llm.__all__)


def test_blocks_and_events_have_anthropics_json_shape() -> None:
    import msgspec

    message = llm.Message("assistant", [llm.TextBlock("hi"), llm.ToolUseBlock("t1", "f", {"a": 1})])
    assert msgspec.to_builtins(message) == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        ],
    }
    decoded = msgspec.json.decode(
        b'{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}', type=llm.Block
    )
    assert decoded == llm.ToolResultBlock("t1", "ok")
    event = msgspec.json.decode(b'{"type": "text_delta", "text": "x"}', type=llm.StreamEvent)
    assert event == llm.TextDelta("x")
