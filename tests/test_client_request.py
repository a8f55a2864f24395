"""conformance.client_request: the request a client of each route sends, from a recorded upstream request."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client_request import client_request, unaskable
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.targets._requests import anthropic_to_openai_request, openai_to_anthropic_request

OPENAI_UPSTREAM: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "stream": True,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
}

ANTHROPIC_UPSTREAM: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 512,
    "stream": True,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
    "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "any"},
}


@pytest.mark.parametrize(
    ("request_", "protocol"), [(OPENAI_UPSTREAM, OPENAI_CHAT), (ANTHROPIC_UPSTREAM, ANTHROPIC_MESSAGES)]
)
def test_same_protocol_is_a_streaming_copy(request_: dict[str, Any], protocol: str) -> None:
    recorded = {**request_, "stream": False}
    client = client_request(recorded, protocol, protocol)
    assert client == {**request_, "stream": True}
    assert client is not recorded and recorded["stream"] is False


def test_openai_upstream_gives_an_anthropic_client_request() -> None:
    client = client_request(OPENAI_UPSTREAM, OPENAI_CHAT, ANTHROPIC_MESSAGES)
    assert client["model"] == "gpt-4o-mini" and client["max_tokens"] == 1024 and client["stream"] is True
    assert client["system"] == "Be brief."
    assert client["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"}]},
    ]
    assert client["tools"] == [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    assert client["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_anthropic_upstream_gives_an_openai_client_request_with_usage() -> None:
    client = client_request(ANTHROPIC_UPSTREAM, ANTHROPIC_MESSAGES, OPENAI_CHAT)
    assert client["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert client["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    assert client["tool_choice"] == "required"
    assert client["max_tokens"] == 512 and client["stream"] is True
    assert client["stream_options"] == {"include_usage": True}


def test_translations_round_trip_the_conversation() -> None:
    # What the adapter sends upstream for the client request derived from a recording is the
    # recording again, up to the fields the adapter always adds.
    there_and_back = anthropic_to_openai_request(openai_to_anthropic_request(OPENAI_UPSTREAM))
    assert there_and_back["messages"] == OPENAI_UPSTREAM["messages"]
    assert there_and_back["tools"] == OPENAI_UPSTREAM["tools"]
    assert there_and_back["tool_choice"] == OPENAI_UPSTREAM["tool_choice"]


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="no client request"):
        client_request({}, "openai-completions", OPENAI_CHAT)


def test_an_anthropic_client_cannot_ask_for_several_choices() -> None:
    n3 = {"model": "gpt-4o", "n": 3, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    assert "n = 3" in unaskable(n3, OPENAI_CHAT, ANTHROPIC_MESSAGES)
    assert unaskable(n3, OPENAI_CHAT, OPENAI_CHAT) == ""
    assert unaskable({**n3, "n": 1}, OPENAI_CHAT, ANTHROPIC_MESSAGES) == ""


def test_anthropic_upstream_gives_a_responses_client_request() -> None:
    client = client_request(ANTHROPIC_UPSTREAM, ANTHROPIC_MESSAGES, OPENAI_RESPONSES)
    assert client["stream"] is True and client["model"] == ANTHROPIC_UPSTREAM["model"]
    assert client["max_output_tokens"] == ANTHROPIC_UPSTREAM["max_tokens"]
    assert client["instructions"] == "Be brief." and "messages" not in client
    assert client["input"] == [{"type": "message", "role": "user", "content": "Weather in Paris?"}]
    assert client["tools"] == [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    assert client["tool_choice"] == "required"
