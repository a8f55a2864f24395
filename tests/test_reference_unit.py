"""The reference target, route by route, over a real loopback upstream (conformance.replay).

Each test feeds a small hand-written upstream stream and asserts on the parsed output events.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _target_streams import (
    ADAPTER,
    ANTHROPIC_REQUEST,
    MESSAGE_STOP,
    NORMALIZER,
    OPENAI_REQUEST,
    PASSTHROUGH,
    TO_OPENAI,
    anthropic_events,
    anthropic_stream,
    anthropic_text,
    block_delta,
    block_start,
    block_stop,
    chunk,
    deltas,
    drive,
    finishes,
    joined,
    message_delta,
    message_start,
    openai_payloads,
    openai_stream,
    text_events,
    tool_calls,
)

from conformance.replay import ReplayServer
from conformance.sse import parse
from conformance.targets.base import Target
from conformance.targets.reference import Reference

WITH_USAGE = {**OPENAI_REQUEST, "stream_options": {"include_usage": True}}
USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
def reference() -> Target:
    return Reference()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(index: int, call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        call["id"] = call_id
        call["type"] = "function"
    if name is not None:
        call["function"]["name"] = name
    return call


# -- the target protocol --------------------------------------------------------------------------


def test_reference_implements_the_target_protocol(reference: Target) -> None:
    assert isinstance(reference, Target)
    assert reference.name == "reference"
    assert reference.version
    # The Responses routes are tested in files of their own (test_reference_responses_*.py).
    assert {NORMALIZER, ADAPTER, TO_OPENAI, PASSTHROUGH} <= reference.routes


async def test_concurrent_streams_share_no_state(server: ReplayServer, reference: Target) -> None:
    first = openai_stream(chunk({"role": "assistant", "content": "one"}), chunk({}, "stop"))
    second = openai_stream(chunk({"role": "assistant", "content": "two"}), chunk({}, "length"))
    (out1, _), (out2, _) = await asyncio.gather(
        drive(server, reference, NORMALIZER, OPENAI_REQUEST, first, schedule="byte"),
        drive(server, reference, NORMALIZER, OPENAI_REQUEST, second, schedule="byte"),
    )
    assert joined(openai_payloads(out1), "content") == "one"
    assert finishes(openai_payloads(out1)) == ["stop"]
    assert joined(openai_payloads(out2), "content") == "two"
    assert finishes(openai_payloads(out2)) == ["length"]


# -- openai-chat -> openai-chat (the normalizer) --------------------------------------------------


async def test_normalizer_forwards_request_and_headers(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "x"}), chunk({}, "stop"))
    request = {**OPENAI_REQUEST, "stream": False}
    _, slot = await drive(server, reference, NORMALIZER, request, body, headers=(("x-test", "yes"),))
    [sent] = slot.requests
    assert sent.path.endswith("/v1/chat/completions")
    assert sent.headers["x-test"] == "yes"
    assert sent.json()["stream"] is True
    assert sent.json()["messages"] == OPENAI_REQUEST["messages"]


async def test_normalizer_writes_one_event_per_write(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "a"}), chunk({"content": "b"}), chunk({}, "stop"))
    output, _ = await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body)
    assert [len(parse(piece)[0]) for piece in output] == [1, 1, 1, 1]
    assert output[-1] == b"data: [DONE]\n\n"


async def test_openrouter_reasoning_appears_once_as_reasoning_content(server: ReplayServer, reference: Target) -> None:
    def reasoning(text: str) -> dict[str, Any]:
        detail = {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}
        return {"role": "assistant", "content": "", "reasoning": text, "reasoning_details": [detail]}

    body = openai_stream(
        chunk(reasoning("We need")),
        chunk(reasoning(" to add.")),
        chunk({"role": "assistant", "content": "4", "reasoning": None, "reasoning_details": []}),
        chunk({"role": "assistant", "content": ""}, "stop"),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert joined(payloads, "reasoning_content") == "We need to add."
    assert joined(payloads, "content") == "4"
    for delta in deltas(payloads):
        assert "reasoning" not in delta and "reasoning_details" not in delta


@pytest.mark.parametrize(
    "fields",
    [
        {"reasoning_content": "think"},  # DeepSeek, vLLM<=0.10, xAI, Qwen
        {"reasoning": "think"},  # vLLM>=0.11, Groq, Ollama
        {"thinking": "think"},  # other servers
        {"reasoning_content": "think", "reasoning": "think"},  # vLLM 0.11 sends both
        {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "think"}]}]},  # Mistral
    ],
    ids=["reasoning_content", "reasoning", "thinking", "both", "mistral-array"],
)
async def test_every_reasoning_dialect_becomes_reasoning_content(
    server: ReplayServer, reference: Target, fields: dict[str, Any]
) -> None:
    body = openai_stream(chunk({"role": "assistant", **fields}), chunk({"content": "ok"}), chunk({}, "stop"))
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert joined(payloads, "reasoning_content") == "think"
    assert joined(payloads, "content") == "ok"
    for delta in deltas(payloads):
        assert not {"reasoning", "thinking", "reasoning_details"} & delta.keys()


async def test_duplicate_finish_is_dropped_and_its_usage_kept(server: ReplayServer, reference: Target) -> None:
    # OpenRouter: the finish chunk comes twice, the second with usage (WIRE-FACTS §4).
    body = openai_stream(
        chunk({"role": "assistant", "content": "hi"}),
        chunk({"role": "assistant", "content": ""}, "stop", usage=None),
        chunk({"role": "assistant", "content": ""}, "stop", usage=USAGE),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, WITH_USAGE, body))[0])
    assert finishes(payloads) == ["stop"]
    assert payloads[-1] == "[DONE]"
    usage_chunk = payloads[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"] == USAGE
    assert set(usage_chunk) == {"id", "object", "created", "model", "choices", "usage"}
    assert all("usage" not in p for p in payloads[:-2])


async def test_usage_chunk_is_placed_after_finish_with_the_last_usage(server: ReplayServer, reference: Target) -> None:
    # Groq 2026: usage on the finish chunk and again on a choices:[] chunk; the last wins.
    later = {**USAGE, "completion_tokens": 4, "total_tokens": 11}
    body = openai_stream(
        chunk({"role": "assistant", "content": "hi"}),
        chunk({}, "stop", usage=USAGE),
        chunk(choices=[], usage=later),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, WITH_USAGE, body))[0])
    usage_chunks = [p for p in payloads if isinstance(p, dict) and p.get("usage")]
    assert usage_chunks == [payloads[-2]]
    assert payloads[-2]["usage"] == later
    assert finishes(payloads[:-2]) == ["stop"]


async def test_without_include_usage_no_usage_and_no_choiceless_chunk(server: ReplayServer, reference: Target) -> None:
    azure_placeholder = {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": []}
    body = openai_stream(
        azure_placeholder,
        chunk({"role": "assistant", "content": "hi"}),
        chunk({}, "stop", usage=USAGE),
        chunk(choices=[], usage=USAGE),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    chunks = [p for p in payloads if isinstance(p, dict)]
    assert all(p["choices"] for p in chunks)
    assert all("usage" not in p for p in chunks)
    # The placeholder's empty identity is not the stream's identity (WIRE-FACTS §4).
    assert {(p["id"], p["model"], p["created"], p["object"]) for p in chunks} == {
        ("chatcmpl-1", "m", 1700000000, "chat.completion.chunk")
    }


async def test_identity_is_stable_and_role_only_in_first_delta(server: ReplayServer, reference: Target) -> None:
    # OpenRouter/Copilot repeat role; Copilot omits `object`; xAI omits finish_reason until the end.
    first = chunk({"role": "assistant", "content": "a"})
    second = {
        "id": "other",
        "created": 1,
        "model": "other",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "b"}}],
    }
    body = openai_stream(first, second, chunk({"role": "assistant"}, "stop"))
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    chunks = [p for p in payloads if isinstance(p, dict)]
    assert {(p["id"], p["created"], p["model"], p["object"]) for p in chunks} == {
        ("chatcmpl-1", 1700000000, "m", "chat.completion.chunk")
    }
    assert ["role" in d for d in deltas(payloads)] == [True, False, False]
    assert all("finish_reason" in c for p in chunks for c in p["choices"])


async def test_tool_call_header_only_in_first_delta(server: ReplayServer, reference: Target) -> None:
    # Qwen repeats "id":"" and "type"; GLM repeats "name":"" (WIRE-FACTS §4).
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "tool_calls": [_call(0, "call_a", "get_weather", "")]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "", "type": "function", "function": {"name": "", "arguments": '{"city":'}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "id": "", "type": "function", "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert tool_calls(payloads) == {0: {"id": "call_a", "name": "get_weather", "arguments": '{"city":"Paris"}'}}
    later = [call for d in deltas(payloads)[1:] for call in d.get("tool_calls") or ()]
    assert all("id" not in call and "type" not in call and "name" not in call.get("function", {}) for call in later)


async def test_parallel_tool_indices_are_kept(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "tool_calls": [_call(0, "call_a", "f", "")]}),
        chunk({"tool_calls": [_call(0, None, None, '{"x":1}')]}),
        chunk({"tool_calls": [_call(1, "call_b", "g", "")]}),
        chunk({"tool_calls": [_call(1, None, None, '{"y":2}')]}),
        chunk({}, "tool_calls"),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    calls = tool_calls(payloads)
    assert calls == {
        0: {"id": "call_a", "name": "f", "arguments": '{"x":1}'},
        1: {"id": "call_b", "name": "g", "arguments": '{"y":2}'},
    }


async def test_calls_sharing_index_zero_are_told_apart(server: ReplayServer, reference: Target) -> None:
    # Ollama sends every parallel call at index 0 (WIRE-FACTS §9 #16); each id is its own call.
    body = openai_stream(
        chunk({"role": "assistant", "tool_calls": [_call(0, "call_a", "f", '{"x":1}')]}),
        chunk({"tool_calls": [_call(0, "call_b", "g", '{"y":2}')]}),
        chunk({}, "tool_calls"),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert tool_calls(payloads) == {
        0: {"id": "call_a", "name": "f", "arguments": '{"x":1}'},
        1: {"id": "call_b", "name": "g", "arguments": '{"y":2}'},
    }


async def test_provider_extras_are_kept(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": "hi"}, x_groq={"id": "req_1"}, provider="Groq"),
        chunk({}, "stop", service_tier="standard"),
    )
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert payloads[0]["x_groq"] == {"id": "req_1"} and payloads[0]["provider"] == "Groq"
    assert payloads[1]["service_tier"] == "standard"


async def test_upstream_error_frame_ends_without_done(server: ReplayServer, reference: Target) -> None:
    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    body = openai_stream(chunk({"role": "assistant", "content": "partial"}), error, done=False)
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert joined(payloads, "content") == "partial"
    assert payloads[-1] == {"error": {"message": "The server had an error", "type": "server_error", "code": None}}
    assert "[DONE]" not in payloads


async def test_openrouter_error_chunk_never_finishes_with_error(server: ReplayServer, reference: Target) -> None:
    error_chunk = chunk(
        {"content": ""},
        "error",
        provider="openai",
        error={"code": "server_error", "message": "Provider disconnected unexpectedly"},
    )
    body = openai_stream(chunk({"role": "assistant", "content": "partial"}), error_chunk, done=False)
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body))[0])
    assert finishes(payloads) == []
    assert payloads[-1]["error"]["message"] == "Provider disconnected unexpectedly"
    assert payloads[-1]["error"]["code"] == "server_error"
    assert "[DONE]" not in payloads


@pytest.mark.parametrize(
    ("body", "register", "error_type"),
    [
        (
            openai_stream(chunk({"role": "assistant", "content": "hi"}), '{"choices": [', done=False),
            {},
            "upstream_error",
        ),
        (openai_stream(chunk({"role": "assistant", "content": "hi"}), done=False), {}, "upstream_cut_off"),
        (
            openai_stream(chunk({"role": "assistant", "content": "hi"}), done=False),
            {"reset_at_end": True},
            "upstream_cut_off",
        ),
        (
            b'{"error":{"message":"bad model","type":"invalid_request_error","code":400}}',
            {"status": 400},
            "invalid_request_error",
        ),
        (b"oops", {"status": 502}, "upstream_error"),
    ],
    ids=["invalid-json", "eof-before-done", "connection-reset", "status-400", "status-502"],
)
async def test_upstream_faults_become_an_error_frame(
    server: ReplayServer, reference: Target, body: bytes, register: dict[str, Any], error_type: str
) -> None:
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body, **register))[0])
    assert payloads[-1]["error"]["type"] == error_type
    assert payloads[-1]["error"]["message"]
    assert "[DONE]" not in payloads
    assert finishes(payloads) == []


@pytest.mark.parametrize("schedule", ["event", "byte"])
async def test_bytes_that_are_not_utf8_end_the_stream_with_an_error_frame(
    server: ReplayServer, reference: Target, schedule: str
) -> None:
    good = openai_stream(chunk({"role": "assistant", "content": "hi"}), done=False)
    bad = openai_stream(chunk({"content": "bad:XX"}), done=False).replace(b"XX", b"\xff\xc3")
    after = openai_stream(chunk({"content": " more"}), chunk({}, "stop"))
    payloads = openai_payloads(
        (await drive(server, reference, NORMALIZER, OPENAI_REQUEST, good + bad + after, schedule=schedule))[0]
    )
    assert [p["choices"][0]["delta"].get("content") for p in payloads[:-1]] == ["hi"]
    assert payloads[-1]["error"]["type"] == "upstream_error"
    first_bad_byte = len(good) + bad.index(b"\xff")
    assert f"not UTF-8 at byte {first_bad_byte} " in payloads[-1]["error"]["message"]
    assert "[DONE]" not in payloads and finishes(payloads) == []


async def test_connection_refused_becomes_an_error_frame(server: ReplayServer, reference: Target) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    output, _ = await drive(server, reference, NORMALIZER, OPENAI_REQUEST, b"", upstream_url=url)
    [payload] = openai_payloads(output)
    assert payload["error"]["type"] == "upstream_error"
    assert "connection failed" in payload["error"]["message"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("schedule", ["recorded", "byte", "adversarial"])
async def test_framing_and_read_splits_do_not_change_the_text(
    server: ReplayServer, reference: Target, newline: str, schedule: str
) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "héllo 😀 中"}), chunk({}, "stop"), newline=newline)
    payloads = openai_payloads((await drive(server, reference, NORMALIZER, OPENAI_REQUEST, body, schedule=schedule))[0])
    assert joined(payloads, "content") == "héllo 😀 中"
    assert payloads[-1] == "[DONE]"


# -- openai-chat -> anthropic-messages (the adapter) ----------------------------------------------


async def test_adapter_translates_the_request(server: ReplayServer, reference: Target) -> None:
    request = {
        **ANTHROPIC_REQUEST,
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }
    body = openai_stream(chunk({"role": "assistant", "content": "x"}), chunk({}, "stop"))
    _, slot = await drive(server, reference, ADAPTER, request, body)
    sent = slot.requests[0].json()
    assert slot.requests[0].path.endswith("/v1/chat/completions")
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["max_tokens"] == 256 and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_adapter_text_stream(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        chunk(choices=[], usage=USAGE),
    )
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["id"] == "msg_chatcmpl-1" and start["model"] == "m" and start["content"] == []
    assert start["stop_reason"] is None and start["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    assert anthropic_text(events) == "Hello"
    assert events[5][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[5][1]["usage"] == {"input_tokens": 7, "output_tokens": 3}


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (USAGE, {"input_tokens": 7, "output_tokens": 3}),
        (  # OpenAI: prompt_tokens counts the cached input too
            {**USAGE, "prompt_tokens": 2006, "total_tokens": 2009, "prompt_tokens_details": {"cached_tokens": 1920}},
            {"input_tokens": 86, "cache_read_input_tokens": 1920, "output_tokens": 3},
        ),
        (
            {**USAGE, "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}},
            {"input_tokens": 7, "cache_read_input_tokens": 0, "output_tokens": 3},
        ),
        (  # DeepSeek: prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens
            {
                "prompt_tokens": 21,
                "completion_tokens": 27,
                "total_tokens": 48,
                "prompt_cache_hit_tokens": 16,
                "prompt_cache_miss_tokens": 5,
            },
            {"input_tokens": 5, "cache_read_input_tokens": 16, "output_tokens": 27},
        ),
        (  # DeepSeek sending both counts: the OpenAI one is taken
            {
                "prompt_tokens": 21,
                "completion_tokens": 27,
                "total_tokens": 48,
                "prompt_cache_hit_tokens": 16,
                "prompt_cache_miss_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 16},
            },
            {"input_tokens": 5, "cache_read_input_tokens": 16, "output_tokens": 27},
        ),
        ({**USAGE, "prompt_tokens_details": None}, {"input_tokens": 7, "output_tokens": 3}),
    ],
    ids=["no-cache", "openai-cached", "openai-cached-zero", "deepseek-hit-miss", "deepseek-both", "details-null"],
)
async def test_adapter_usage_leaves_the_cached_input_out_of_input_tokens(
    server: ReplayServer, reference: Target, usage: dict[str, Any], expected: dict[str, int]
) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop"), chunk(choices=[], usage=usage)
    )
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    [delta] = [data for name, data in events if name == "message_delta"]
    assert delta["usage"] == expected


async def test_adapter_opens_no_empty_text_block_on_a_tool_first_stream(
    server: ReplayServer, reference: Target
) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "tool_calls": [_call(0, "call_a", "get_weather", "")]}),
        chunk({"tool_calls": [_call(0, None, None, '{"city":')]}),
        chunk({"tool_calls": [_call(0, None, None, '"Paris"}')]}),
        chunk({}, "tool_calls"),
    )
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    starts = [data for name, data in events if name == "content_block_start"]
    assert starts == [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}},
        }
    ]
    assert anthropic_text(events, "input_json_delta", "partial_json") == '{"city":"Paris"}'
    assert all(data["delta"]["partial_json"] for name, data in events if name == "content_block_delta")
    assert [data["delta"]["stop_reason"] for name, data in events if name == "message_delta"] == ["tool_use"]


async def test_adapter_stop_reason_is_tool_use_on_forced_tool_choice(server: ReplayServer, reference: Target) -> None:
    # OpenAI answers a forced named tool_choice with finish_reason "stop" (WIRE-FACTS §2.3).
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "tool_calls": [_call(0, "call_a", "f", '{"a":1}')]}),
        chunk({}, "stop"),
    )
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    assert [data["delta"]["stop_reason"] for name, data in events if name == "message_delta"] == ["tool_use"]
    # Arguments that arrive whole give exactly one delta.
    assert [data["delta"] for name, data in events if name == "content_block_delta"] == [
        {"type": "input_json_delta", "partial_json": '{"a":1}'}
    ]


async def test_adapter_blocks_never_interleave(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": "", "reasoning_content": "Hmm"}),
        chunk({"content": "Let me check."}),
        chunk({"tool_calls": [_call(0, "call_a", "f", '{"a":1}')]}),
        chunk({"tool_calls": [_call(1, "call_b", "g", '{"b":2}')]}),
        chunk({}, "tool_calls", usage=USAGE),
    )
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    lifecycle = [
        (name, data.get("index"))
        for name, data in events
        if name.startswith("content_block_") and name != "content_block_delta"
    ]
    assert lifecycle == [
        ("content_block_start", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_stop", 2),
        ("content_block_start", 3), ("content_block_stop", 3),
    ]  # fmt: skip
    blocks = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert blocks[0] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use", "tool_use"]
    assert anthropic_text(events, "thinking_delta", "thinking") == "Hmm"
    assert anthropic_text(events) == "Let me check."
    assert not any(
        name == "content_block_delta" and data["delta"]["type"] == "signature_delta" for name, data in events
    )
    message_deltas = [data for name, data in events if name == "message_delta"]
    assert message_deltas == [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"input_tokens": 7, "output_tokens": 3},
        }
    ]
    assert events[-1] == ("message_stop", {"type": "message_stop"})


@pytest.mark.parametrize(
    ("finish", "stop_reason"), [("length", "max_tokens"), ("content_filter", "refusal"), ("stop", "end_turn")]
)
async def test_adapter_maps_finish_reasons(
    server: ReplayServer, reference: Target, finish: str, stop_reason: str
) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "x"}), chunk({}, finish))
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body))[0])
    assert [data["delta"]["stop_reason"] for name, data in events if name == "message_delta"] == [stop_reason]


@pytest.mark.parametrize(
    ("body", "register", "error_type"),
    [
        (
            openai_stream(
                chunk({"role": "assistant", "content": "hi"}),
                {"error": {"message": "boom", "type": "server_error"}},
                done=False,
            ),
            {},
            "api_error",
        ),
        (
            openai_stream(
                chunk({"role": "assistant", "content": "hi"}),
                {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                done=False,
            ),
            {},
            "rate_limit_error",
        ),
        (openai_stream(chunk({"role": "assistant", "content": "hi"}), "not json", done=False), {}, "api_error"),
        (openai_stream(chunk({"role": "assistant", "content": "hi"}), chunk({}, "stop"), done=False), {}, "api_error"),
        (openai_stream(chunk({"role": "assistant", "content": "hi"}), done=False), {"reset_at_end": True}, "api_error"),
        (b'{"error":{"message":"busy"}}', {"status": 529}, "overloaded_error"),
        (b'{"error":{"message":"too many"}}', {"status": 429}, "rate_limit_error"),
    ],
    ids=[
        "error-frame",
        "rate-limit-frame",
        "invalid-json",
        "eof-before-done",
        "connection-reset",
        "status-529",
        "status-429",
    ],
)
async def test_adapter_faults_become_an_error_event(
    server: ReplayServer, reference: Target, body: bytes, register: dict[str, Any], error_type: str
) -> None:
    events = anthropic_events((await drive(server, reference, ADAPTER, ANTHROPIC_REQUEST, body, **register))[0])
    name, data = events[-1]
    assert name == "error" and data["type"] == "error"
    assert data["error"]["type"] == error_type and data["error"]["message"]
    assert not {"message_delta", "message_stop"} & {name for name, _ in events}


# -- anthropic-messages -> openai-chat ------------------------------------------------------------


async def test_to_openai_translates_the_request(server: ReplayServer, reference: Target) -> None:
    request = {
        "model": "claude-sonnet-4-5",
        "stream": True,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
    }
    _, slot = await drive(server, reference, TO_OPENAI, request, anthropic_stream(*text_events()))
    sent = slot.requests[0].json()
    assert slot.requests[0].path.endswith("/v1/messages")
    assert sent["system"] == "Be brief."
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["max_tokens"] == 4096 and sent["stream"] is True


async def test_to_openai_text_stream(server: ReplayServer, reference: Target) -> None:
    events = [
        message_start(input_tokens=10),
        {"type": "ping"},
        *text_events("Hello")[1:4],
        message_delta("end_turn", input_tokens=12, output_tokens=5),
        MESSAGE_STOP,
    ]
    request = {**OPENAI_REQUEST, "stream_options": {"include_usage": True}}
    payloads = openai_payloads((await drive(server, reference, TO_OPENAI, request, anthropic_stream(*events)))[0])
    assert payloads[0]["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    assert joined(payloads, "content") == "Hello"
    assert finishes(payloads) == ["stop"]
    assert payloads[-2]["choices"] == [] and payloads[-2]["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
    }
    assert payloads[-1] == "[DONE]"
    chunks = [p for p in payloads if isinstance(p, dict)]
    assert {(p["id"], p["model"], p["object"]) for p in chunks} == {
        ("chatcmpl-msg_1", "claude-sonnet-4-5", "chat.completion.chunk")
    }
    assert len({p["created"] for p in chunks}) == 1
    assert ["role" in d for d in deltas(payloads)] == [True] + [False] * (len(deltas(payloads)) - 1)


def _start_with(usage: dict[str, int]) -> dict[str, Any]:
    start = message_start()
    start["message"]["usage"] = usage
    return start


@pytest.mark.parametrize(
    ("start_usage", "delta_usage", "expected"),
    [
        (
            {"input_tokens": 10, "output_tokens": 1},
            {"output_tokens": 5},
            {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        ),
        (  # Anthropic: input_tokens leaves out the cache reads and writes reported beside it
            {
                "input_tokens": 3,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 2000,
                "output_tokens": 1,
            },
            {"output_tokens": 50},
            {
                "prompt_tokens": 2103,
                "completion_tokens": 50,
                "total_tokens": 2153,
                "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 100},
            },
        ),
        (  # message_delta's counts replace message_start's
            {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1},
            {
                "input_tokens": 4,
                "cache_creation_input_tokens": 10,
                "cache_read_input_tokens": 2000,
                "output_tokens": 50,
            },
            {
                "prompt_tokens": 2014,
                "completion_tokens": 50,
                "total_tokens": 2064,
                "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 10},
            },
        ),
        (
            {"input_tokens": 3, "cache_read_input_tokens": 0, "output_tokens": 1},
            {"output_tokens": 5},
            {
                "prompt_tokens": 3,
                "completion_tokens": 5,
                "total_tokens": 8,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        ),
        (  # a cache write but no read reported: no cached_tokens
            {"input_tokens": 3, "cache_creation_input_tokens": 100, "output_tokens": 1},
            {"output_tokens": 5},
            {
                "prompt_tokens": 103,
                "completion_tokens": 5,
                "total_tokens": 108,
                "prompt_tokens_details": {"cache_write_tokens": 100},
            },
        ),
    ],
    ids=["no-cache", "cache-read-and-write", "delta-replaces-start", "cache-read-zero", "cache-write-only"],
)
async def test_to_openai_prompt_tokens_count_the_cached_input(
    server: ReplayServer,
    reference: Target,
    start_usage: dict[str, int],
    delta_usage: dict[str, int],
    expected: dict[str, Any],
) -> None:
    events = [_start_with(start_usage), *text_events("Hi")[1:4], message_delta("end_turn", **delta_usage), MESSAGE_STOP]
    request = {**OPENAI_REQUEST, "stream_options": {"include_usage": True}}
    payloads = openai_payloads((await drive(server, reference, TO_OPENAI, request, anthropic_stream(*events)))[0])
    assert payloads[-2]["choices"] == [] and payloads[-2]["usage"] == expected


async def test_to_openai_without_include_usage_sends_no_usage(server: ReplayServer, reference: Target) -> None:
    payloads = openai_payloads(
        (await drive(server, reference, TO_OPENAI, OPENAI_REQUEST, anthropic_stream(*text_events())))[0]
    )
    assert all(p["choices"] and "usage" not in p for p in payloads if isinstance(p, dict))


async def test_to_openai_thinking_becomes_reasoning_content_and_signature_is_dropped(
    server: ReplayServer, reference: Target
) -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Let me think."}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCkgIAhABGAIiQ=="}),
        block_stop(0),
        *text_events("Done.")[1:],
    ]
    payloads = openai_payloads(
        (await drive(server, reference, TO_OPENAI, OPENAI_REQUEST, anthropic_stream(*events)))[0]
    )
    assert joined(payloads, "reasoning_content") == "Let me think."
    assert joined(payloads, "content") == "Done."
    assert "EqQBCkgIAhABGAIiQ==" not in json.dumps(payloads)


async def test_to_openai_tool_calls(server: ReplayServer, reference: Target) -> None:
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "Checking."}),
        block_stop(0),
        block_start(1, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        block_delta(1, {"type": "input_json_delta", "partial_json": '{"query":"x"}'}),
        block_stop(1),
        block_start(2, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
        block_stop(2),
        block_start(3, {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}),
        block_delta(3, {"type": "input_json_delta", "partial_json": ""}),
        block_delta(3, {"type": "input_json_delta", "partial_json": '{"city":'}),
        block_delta(3, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        block_stop(3),
        block_start(4, {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"tz": "CET"}}),
        block_stop(4),
        message_delta("tool_use", output_tokens=9),
        MESSAGE_STOP,
    ]
    payloads = openai_payloads(
        (await drive(server, reference, TO_OPENAI, OPENAI_REQUEST, anthropic_stream(*events)))[0]
    )
    assert tool_calls(payloads) == {
        0: {"id": "toolu_a", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        1: {"id": "toolu_b", "name": "get_time", "arguments": '{"tz": "CET"}'},
    }
    assert joined(payloads, "content") == "Checking."
    assert finishes(payloads) == ["tool_calls"]
    fragments = [
        c["function"]["arguments"] for d in deltas(payloads) for c in d.get("tool_calls") or () if "id" not in c
    ]
    assert "" not in fragments


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("stop_sequence", "stop"),
    ],
)
async def test_to_openai_maps_stop_reasons(
    server: ReplayServer, reference: Target, stop_reason: str, finish: str
) -> None:
    events = [*text_events()[:4], message_delta(stop_reason), MESSAGE_STOP]
    payloads = openai_payloads(
        (await drive(server, reference, TO_OPENAI, OPENAI_REQUEST, anthropic_stream(*events)))[0]
    )
    assert finishes(payloads) == [finish]


@pytest.mark.parametrize(
    ("body", "register", "error_type"),
    [
        (
            anthropic_stream(
                *text_events()[:3], {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            ),
            {},
            "overloaded_error",
        ),
        (anthropic_stream(*text_events()[:3]), {}, "upstream_cut_off"),
        (anthropic_stream(*text_events()[:3]), {"reset_at_end": True}, "upstream_cut_off"),
        (b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}', {"status": 429}, "rate_limit_error"),
    ],
    ids=["error-event", "eof-before-message-stop", "connection-reset", "status-429"],
)
async def test_to_openai_faults_become_an_error_frame(
    server: ReplayServer, reference: Target, body: bytes, register: dict[str, Any], error_type: str
) -> None:
    payloads = openai_payloads((await drive(server, reference, TO_OPENAI, OPENAI_REQUEST, body, **register))[0])
    assert payloads[-1]["error"]["type"] == error_type and payloads[-1]["error"]["message"]
    assert "[DONE]" not in payloads and finishes(payloads) == []


# -- anthropic-messages -> anthropic-messages (the pass-through) ----------------------------------


async def test_passthrough_keeps_data_bytes_and_normalises_framing(server: ReplayServer, reference: Target) -> None:
    padded = '{"type":"content_block_stop","index":0     }'
    body = (
        anthropic_stream(message_start(), {"type": "ping"}, *text_events()[1:3], newline="\r\n")
        + f"event: content_block_stop\r\ndata: {padded}\r\n\r\n".encode()
        + anthropic_stream(*text_events()[4:], newline="\r\n")
    )
    output, slot = await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, body, schedule="byte")
    assert slot.requests[0].path.endswith("/v1/messages")
    upstream, _ = parse(body)
    relayed, _ = parse(b"".join(output))
    assert [(e.type, e.data) for e in relayed] == [(e.type, e.data) for e in upstream]
    assert f"data: {padded}\n\n".encode() in b"".join(output)
    assert b"\r" not in b"".join(output)


async def test_passthrough_ends_at_an_upstream_error(server: ReplayServer, reference: Target) -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": "Overloaded"}}
    body = anthropic_stream(*text_events()[:2], {"type": "ping"}, error)
    events = anthropic_events((await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, body))[0])
    assert events[-1] == ("error", error)
    assert [name for name, _ in events].count("error") == 1


@pytest.mark.parametrize("register", [{}, {"reset_at_end": True}], ids=["eof", "connection-reset"])
async def test_passthrough_cut_off_gets_an_error_event(
    server: ReplayServer, reference: Target, register: dict[str, Any]
) -> None:
    body = anthropic_stream(*text_events()[:3])
    events = anthropic_events((await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, body, **register))[0])
    assert [name for name, _ in events] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert events[-1][1]["error"]["type"] == "api_error"


async def test_passthrough_ends_with_an_error_at_an_event_that_is_not_json(
    server: ReplayServer, reference: Target
) -> None:
    events = text_events()
    body = (
        anthropic_stream(*events[:3])
        + b'event: content_block_delta\ndata: {"type":"content_bl\n\n'
        + anthropic_stream(*events[3:])
    )
    output = anthropic_events((await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, body))[0])
    assert [name for name, _ in output] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert "not JSON" in output[-1][1]["error"]["message"]


async def test_passthrough_status_error_becomes_an_error_event(server: ReplayServer, reference: Target) -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    events = anthropic_events((await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, body, status=529))[0])
    assert len(events) == 1 and events[0][0] == "error"
    assert events[0][1]["error"]["type"] == "overloaded_error"
    assert "Overloaded" in events[0][1]["error"]["message"]


async def test_passthrough_keeps_signatures(server: ReplayServer, reference: Target) -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Hmm."}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCkgIAhABGAIiQ=="}),
        block_stop(0),
        *text_events()[1:],
    ]
    relayed = anthropic_events(
        (await drive(server, reference, PASSTHROUGH, ANTHROPIC_REQUEST, anthropic_stream(*events)))[0]
    )
    assert relayed == [(e["type"], e) for e in events]
