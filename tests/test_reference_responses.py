"""The reference's two routes between OpenAI chat and OpenAI Responses, over a real loopback upstream:
openai-chat -> openai-responses (`conformance.targets.openai_to_responses`) and openai-responses ->
openai-chat (`conformance.targets.responses_to_openai`), and their request mappings
(`conformance.targets._responses_requests`).

Each test feeds a small hand-written upstream stream and asserts on what the client got: the
Responses events are also read by the suite's own Responses view and assembler, and judged by the
`openai-responses.*` invariants, so a stream that reads right but breaks the protocol fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _target_streams import (
    chunk,
    deltas,
    drive,
    finishes,
    joined,
    openai_payloads,
    openai_stream,
    tool_calls,
)

from conformance.checks import build_context, check
from conformance.client_request import client_request
from conformance.invariants import select
from conformance.neutral import Message
from conformance.protocols import OPENAI_CHAT, OPENAI_RESPONSES
from conformance.replay import ReplayServer
from conformance.sse import parse
from conformance.targets._responses_requests import openai_to_responses_request, responses_to_openai_request
from conformance.targets.base import Route, Target
from conformance.targets.openai_to_responses import to_responses_usage
from conformance.targets.reference import Reference
from conformance.targets.responses_to_openai import chat_usage

TO_RESPONSES: Route = (OPENAI_CHAT, OPENAI_RESPONSES)
TO_CHAT: Route = (OPENAI_RESPONSES, OPENAI_CHAT)

RESPONSES_REQUEST: dict[str, Any] = {"model": "gpt-4.1", "input": [{"role": "user", "content": "hi"}], "stream": True}
CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-5.5",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}
CHAT_USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 12,
    "total_tokens": 32,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 4},
}
RESPONSES_USAGE = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 8},
    "output_tokens": 12,
    "output_tokens_details": {"reasoning_tokens": 4},
    "total_tokens": 32,
}
RESP_ID = "resp_0a1b2c3d"


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
def reference() -> Target:
    return Reference()


# -- reading a Responses output -------------------------------------------------------------------


def responses_events(output: list[bytes]) -> list[dict[str, Any]]:
    """Each event's JSON, after checking that its event: name is its type."""
    events, _ = parse(b"".join(output))
    payloads = [json.loads(event.data) for event in events]
    assert [event.type for event in events] == [payload["type"] for payload in payloads]
    return payloads


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def assembled(output: list[bytes], **context: Any) -> Message:
    """The output as the suite reads it, after the framing and protocol invariants found nothing."""
    ctx = build_context(b"".join(output), OPENAI_RESPONSES, **context)
    chosen = [inv for inv in select(OPENAI_RESPONSES) if inv.id.startswith(("sse.", "openai-responses."))]
    assert [(verdict.invariant, verdict.reason) for verdict in check(ctx, chosen) if verdict.failing] == []
    return ctx.message


# -- openai-chat -> openai-responses ----------------------------------------------------------------


async def test_text_streams_as_a_message_item(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        chunk(choices=[], usage=CHAT_USAGE),
    )
    output, slot = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[-1]["response"]["usage"] == RESPONSES_USAGE
    assert events[-1]["response"]["output"] == [events[-2]["item"]]
    assert events[-2]["item"]["content"][0]["text"] == "Hello"
    message = assembled(output)
    assert (message.text, message.finish, message.done) == ("Hello", "stop", True)
    [sent] = slot.requests
    assert sent.path.endswith("/v1/chat/completions")
    assert sent.json()["messages"] == [{"role": "user", "content": "hi"}]
    assert sent.json()["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
async def test_reasoning_of_every_dialect_streams_as_a_summary(
    server: ReplayServer, reference: Target, field: str
) -> None:
    body = openai_stream(
        chunk({"role": "assistant", field: "Think"}),
        chunk({field: "ing."}),
        chunk({"content": "Done."}),
        chunk({}, "stop"),
    )
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    added = [event["item"]["type"] for event in events if event["type"] == "response.output_item.added"]
    assert added == ["reasoning", "message"]
    assert [e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta"] == ["Think", "ing."]
    # The reasoning item is closed, summary included, before the message item opens.
    done = next(event for event in events if event["type"] == "response.output_item.done")
    assert done["item"]["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert types(events).index("response.output_item.done") < types(events).index("response.content_part.added")
    message = assembled(output)
    assert (message.reasoning, message.text) == ("Thinking.", "Done.")


async def test_refusal_streams_as_a_refusal_part(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "refusal": ""}),
        chunk({"refusal": "I can't"}),
        chunk({"refusal": " help."}),
        chunk({}, "stop"),
    )
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert [e["delta"] for e in events if e["type"] == "response.refusal.delta"] == ["I can't", " help."]
    assert next(e for e in events if e["type"] == "response.refusal.done")["refusal"] == "I can't help."
    message = assembled(output)
    assert (message.text, message.refusal) == ("", "I can't help.")


async def test_parallel_tool_calls_stream_as_function_call_items(server: ReplayServer, reference: Target) -> None:
    first = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ""}}
    second = {"index": 1, "id": "call_b", "type": "function", "function": {"name": "weather", "arguments": ""}}
    body = openai_stream(
        chunk({"role": "assistant", "content": None, "tool_calls": [first]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chunk({"tool_calls": [second]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome"}'}}]}),
        chunk({}, "tool_calls"),
    )
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    added = [event for event in events if event["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["call_id"], e["item"]["name"]) for e in added] == [
        (0, "call_a", "weather"),
        (1, "call_b", "weather"),
    ]
    dones = [event for event in events if event["type"] == "response.function_call_arguments.done"]
    assert [(e["output_index"], e["arguments"]) for e in dones] == [(0, '{"city":"Oslo"}'), (1, '{"city":"Rome"}')]
    assert [item["call_id"] for item in events[-1]["response"]["output"]] == ["call_a", "call_b"]
    message = assembled(output)
    assert [(call.id, call.name, call.arguments) for call in message.tool_calls] == [
        ("call_a", "weather", {"city": "Oslo"}),
        ("call_b", "weather", {"city": "Rome"}),
    ]
    assert message.finish == "tool_calls"


async def test_interleaved_and_whole_tool_calls(server: ReplayServer, reference: Target) -> None:
    # Fragments of two calls alternate, and a third arrives whole with no arguments at all.
    body = openai_stream(
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "f", "arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": '{"b":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "2}"}}]}),
        chunk({"tool_calls": [{"index": 2, "id": "call_c", "function": {"name": "h"}}]}),
        chunk({}, "tool_calls"),
    )
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    message = assembled(output)
    assert [(call.name, call.raw_arguments) for call in message.tool_calls] == [
        ("f", '{"a":1}'),
        ("g", '{"b":2}'),
        ("h", "{}"),  # as OpenAI sends a call without arguments
    ]


async def test_finish_length_is_an_incomplete_response(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "Once upon"}), chunk({}, "length"))
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["status"] == "incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"
    assert (assembled(output).finish, assembled(output).done) == ("length", True)


async def test_finish_content_filter_is_an_incomplete_response(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "Sure"}), chunk({}, "content_filter"))
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert events[-1]["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert assembled(output).finish == "content_filter"


async def test_usage_after_a_duplicate_finish_chunk_reaches_the_response(
    server: ReplayServer, reference: Target
) -> None:
    body = openai_stream(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({}, "stop"),
        chunk({}, "stop", usage=CHAT_USAGE),  # Cloudflare, OpenRouter: the copy carries the usage
    )
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert types(events).count("response.output_item.done") == 1
    assert events[-1]["response"]["usage"] == RESPONSES_USAGE


async def test_cut_off_is_an_error_then_response_failed(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "Half an ans"}), done=False)
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert types(events)[-2:] == ["error", "response.failed"]
    assert "before data: [DONE]" in events[-2]["error"]["message"]
    assert events[-1]["response"]["status"] == "failed"
    message = assembled(output, negative={"kind": "cut-off"})
    assert (message.text, message.done, message.finish) == ("Half an ans", False, None)


async def test_error_mid_stream_is_an_error_then_response_failed(server: ReplayServer, reference: Target) -> None:
    error = {"error": {"message": "The server had an error", "type": "server_error"}}
    body = openai_stream(chunk({"role": "assistant", "content": "Part"}), error, done=False)
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    events = responses_events(output)
    assert types(events)[-2:] == ["error", "response.failed"]
    assert events[-2]["error"]["message"] == "The server had an error"
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": "The server had an error"}
    assert assembled(output, negative={"kind": "upstream-error"}).error is not None


async def test_an_http_error_still_opens_with_response_created(server: ReplayServer, reference: Target) -> None:
    body = json.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body.encode(), status=429)
    events = responses_events(output)
    assert types(events) == ["response.created", "response.in_progress", "error", "response.failed"]
    assert events[2]["error"]["code"] == "rate_limit_exceeded"
    assert "Rate limit reached" in events[2]["error"]["message"]


async def test_data_that_is_not_json_is_an_error(server: ReplayServer, reference: Target) -> None:
    body = openai_stream(chunk({"role": "assistant", "content": "a"}), '{"choices": [', chunk({}, "stop"))
    output, _ = await drive(server, reference, TO_RESPONSES, RESPONSES_REQUEST, body)
    assert types(responses_events(output))[-2:] == ["error", "response.failed"]


def test_chat_usage_reads_as_responses_usage() -> None:
    assert to_responses_usage(CHAT_USAGE) == RESPONSES_USAGE
    # xAI leaves reasoning out of completion_tokens; DeepSeek reports its cache hit on its own.
    xai = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 25,
        "completion_tokens_details": {"reasoning_tokens": 10},
    }
    assert to_responses_usage(xai)["output_tokens"] == 15
    assert to_responses_usage({"prompt_tokens": 9, "prompt_cache_hit_tokens": 6})["input_tokens_details"] == {
        "cached_tokens": 6
    }


# -- openai-responses -> openai-chat ------------------------------------------------------------------


def _response(status: str, output: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": RESP_ID,
        "object": "response",
        "created_at": 1779100000,
        "status": status,
        "model": "gpt-5.5-2026-04-23",
        "output": output or [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
        **fields,
    }


def responses_stream(*events: dict[str, Any], opening: bool = True) -> bytes:
    """Named events numbered from 0, after response.created and response.in_progress."""
    if opening:
        head = [
            {"type": "response.created", "response": _response("in_progress")},
            {"type": "response.in_progress", "response": _response("in_progress")},
        ]
        events = (*head, *events)
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps({**event, 'sequence_number': number})}\n\n"
        for number, event in enumerate(events)
    ).encode()


def message_events(text: list[str], index: int = 0, *, kind: str = "output_text") -> list[dict[str, Any]]:
    """A message item whose one part streams `text`, in `kind` (output_text or refusal)."""
    field, delta = ("text", "response.output_text") if kind == "output_text" else ("refusal", "response.refusal")
    item = {"id": f"msg_{index}", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    where = {"item_id": f"msg_{index}", "output_index": index, "content_index": 0}
    whole = {"type": kind, field: "".join(text)}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        {"type": "response.content_part.added", **where, "part": {"type": kind, field: ""}},
        *({"type": f"{delta}.delta", **where, "delta": piece} for piece in text),
        {"type": f"{delta}.done", **where, field: "".join(text)},
        {"type": "response.content_part.done", **where, "part": whole},
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": {**item, "status": "completed", "content": [whole]},
        },
    ]


def call_events(
    index: int, call_id: str, name: str, pieces: list[str], *, kind: str = "function_call"
) -> list[dict[str, Any]]:
    field = "arguments" if kind == "function_call" else "input"
    prefix = "response.function_call_arguments" if kind == "function_call" else "response.custom_tool_call_input"
    item = {"id": f"fc_{index}", "type": kind, "status": "in_progress", field: "", "call_id": call_id, "name": name}
    where = {"item_id": f"fc_{index}", "output_index": index}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        *({"type": f"{prefix}.delta", **where, "delta": piece} for piece in pieces),
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": {**item, field: "".join(pieces), "status": "completed"},
        },
    ]


def completed(usage: dict[str, Any] | None = RESPONSES_USAGE) -> dict[str, Any]:
    return {"type": "response.completed", "response": _response("completed", usage=usage)}


async def test_text_becomes_content_deltas_then_stop_usage_and_done(server: ReplayServer, reference: Target) -> None:
    body = responses_stream(*message_events(["Hel", "lo"]), completed())
    output, slot = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert deltas(payloads)[0] == {"role": "assistant", "content": ""}
    assert [delta for delta in deltas(payloads) if "role" in delta] == [deltas(payloads)[0]]
    assert joined(payloads, "content") == "Hello"
    assert finishes(payloads) == ["stop"]
    assert payloads[-2]["choices"] == []
    assert payloads[-2]["usage"] == CHAT_USAGE
    assert payloads[-1] == "[DONE]"
    [sent] = slot.requests
    assert sent.path.endswith("/v1/responses")
    assert sent.json()["input"] == [{"role": "user", "content": "hi"}]
    assert sent.json()["stream"] is True


async def test_no_usage_chunk_unless_asked(server: ReplayServer, reference: Target) -> None:
    body = responses_stream(*message_events(["Hi"]), completed())
    request = {key: value for key, value in CHAT_REQUEST.items() if key != "stream_options"}
    output, _ = await drive(server, reference, TO_CHAT, request, body)
    payloads = openai_payloads(output)
    assert all(p == "[DONE]" or p["choices"] for p in payloads)


async def test_reasoning_summary_becomes_reasoning_content(server: ReplayServer, reference: Target) -> None:
    item = {"id": "rs_0", "type": "reasoning", "summary": []}
    where = {"item_id": "rs_0", "output_index": 0, "summary_index": 0}
    body = responses_stream(
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.reasoning_summary_part.added", **where, "part": {"type": "summary_text", "text": ""}},
        {"type": "response.reasoning_summary_text.delta", **where, "delta": "Mull"},
        {"type": "response.reasoning_summary_text.delta", **where, "delta": "ing."},
        {"type": "response.reasoning_summary_text.done", **where, "text": "Mulling."},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "summary": [{"type": "summary_text", "text": "Mulling."}]},
        },
        *message_events(["Yes."], 1),
        completed(),
    )
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert joined(payloads, "reasoning_content") == "Mulling."  # once: the .done events add nothing
    assert joined(payloads, "content") == "Yes."


async def test_refusal_becomes_delta_refusal(server: ReplayServer, reference: Target) -> None:
    body = responses_stream(*message_events(["I can't", " help."], kind="refusal"), completed())
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert (joined(payloads, "refusal"), joined(payloads, "content")) == ("I can't help.", "")


async def test_parallel_function_calls_get_dense_indices(server: ReplayServer, reference: Target) -> None:
    body = responses_stream(
        *call_events(0, "call_a", "weather", ['{"city":', '"Oslo"}']),
        *call_events(1, "call_b", "weather", ['{"city":"Rome"}']),
        completed(),
    )
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert tool_calls(payloads) == {
        0: {"id": "call_a", "name": "weather", "arguments": '{"city":"Oslo"}'},
        1: {"id": "call_b", "name": "weather", "arguments": '{"city":"Rome"}'},
    }
    headers = [call for d in deltas(payloads) for call in d.get("tool_calls") or () if "id" in call]
    assert len(headers) == 2  # id and name once per call
    assert finishes(payloads) == ["tool_calls"]


async def test_custom_tool_call_becomes_a_function_call_with_its_input(server: ReplayServer, reference: Target) -> None:
    patch = ["*** Begin Patch\n", "*** End Patch\n"]
    body = responses_stream(*call_events(0, "call_p", "apply_patch", patch, kind="custom_tool_call"), completed())
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert tool_calls(payloads) == {0: {"id": "call_p", "name": "apply_patch", "arguments": "".join(patch)}}


async def test_server_tools_are_not_client_tool_calls(server: ReplayServer, reference: Target) -> None:
    search = {"id": "ws_0", "type": "web_search_call", "status": "in_progress"}
    body = responses_stream(
        {"type": "response.output_item.added", "output_index": 0, "item": search},
        {"type": "response.web_search_call.searching", "item_id": "ws_0", "output_index": 0},
        {"type": "response.output_item.done", "output_index": 0, "item": {**search, "status": "completed"}},
        *message_events(["Found."], 1),
        completed(),
    )
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert tool_calls(payloads) == {}
    assert (joined(payloads, "content"), finishes(payloads)) == ("Found.", ["stop"])


async def test_text_sent_whole_in_done_events_is_kept(server: ReplayServer, reference: Target) -> None:
    events = [e for e in message_events(["Whole."]) if not e["type"].endswith(".delta")]
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, responses_stream(*events, completed()))
    assert joined(openai_payloads(output), "content") == "Whole."


async def test_incomplete_max_output_tokens_finishes_length(server: ReplayServer, reference: Target) -> None:
    incomplete = {
        "type": "response.incomplete",
        "response": _response("incomplete", usage=RESPONSES_USAGE, incomplete_details={"reason": "max_output_tokens"}),
    }
    output, _ = await drive(
        server, reference, TO_CHAT, CHAT_REQUEST, responses_stream(*message_events(["Once"]), incomplete)
    )
    assert finishes(openai_payloads(output)) == ["length"]
    assert openai_payloads(output)[-1] == "[DONE]"


async def test_error_event_becomes_the_error_frame(server: ReplayServer, reference: Target) -> None:
    error = {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "message": "You exceeded your quota.",
        "param": None,
    }
    failed = {
        "type": "response.failed",
        "response": _response("failed", error={"code": "insufficient_quota", "message": "x"}),
    }
    body = responses_stream(*message_events(["Par"])[:3], {"type": "error", "error": error}, failed)
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert joined(payloads, "content") == "Par"
    assert payloads[-1] == {
        "error": {"message": "You exceeded your quota.", "type": "insufficient_quota", "code": "insufficient_quota"}
    }
    assert "[DONE]" not in payloads and finishes(payloads) == []


async def test_response_failed_alone_becomes_the_error_frame(server: ReplayServer, reference: Target) -> None:
    failed = {
        "type": "response.failed",
        "response": _response("failed", error={"code": "server_error", "message": "Boom."}),
    }
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, responses_stream(failed))
    payloads = openai_payloads(output)
    assert payloads[-1]["error"]["message"] == "Boom."
    assert "[DONE]" not in payloads


async def test_cut_off_becomes_the_error_frame(server: ReplayServer, reference: Target) -> None:
    body = responses_stream(*message_events(["Half"])[:3])
    output, _ = await drive(server, reference, TO_CHAT, CHAT_REQUEST, body)
    payloads = openai_payloads(output)
    assert joined(payloads, "content") == "Half"
    assert payloads[-1]["error"]["type"] == "upstream_cut_off"
    assert "[DONE]" not in payloads and finishes(payloads) == []


def test_responses_usage_reads_as_chat_usage() -> None:
    assert chat_usage(RESPONSES_USAGE) == CHAT_USAGE


# -- requests -------------------------------------------------------------------------------------

CHAT_UPSTREAM: dict[str, Any] = {
    "model": "gpt-4.1",
    "stream": True,
    "max_completion_tokens": 300,
    "temperature": 0.2,
    "reasoning_effort": "low",
    "parallel_tool_calls": True,
    "stream_options": {"include_usage": True},
    "stop": ["\n\n"],
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather.",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "weather"}},
}
RESPONSES_UPSTREAM: dict[str, Any] = {
    "model": "gpt-5.2-codex",
    "stream": True,
    "instructions": "You are a coding agent.",
    "max_output_tokens": 500,
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix greet()."}]},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": '{"command":["cat","a.py"]}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "def greet(): ..."},
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ],
    "tools": [
        {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}, "strict": False},
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
        },
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
}


def test_chat_request_as_responses_request() -> None:
    request = openai_to_responses_request(CHAT_UPSTREAM)
    assert request["instructions"] == "Be brief."
    assert request["input"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
    ]
    assert request["tools"] == [
        {
            "type": "function",
            "name": "weather",
            "description": "Weather.",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,  # chat's default, which Responses does not share
        }
    ]
    assert request["tool_choice"] == {"type": "function", "name": "weather"}
    assert (request["max_output_tokens"], request["temperature"], request["reasoning"]) == (300, 0.2, {"effort": "low"})
    assert request["stream"] is True
    # No equivalent: stop sequences and stream_options are left out.
    assert "stop" not in request and "stream_options" not in request


def test_responses_request_as_chat_request() -> None:
    request = responses_to_openai_request(RESPONSES_UPSTREAM)
    assert request["messages"] == [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix greet()."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command":["cat","a.py"]}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "def greet(): ..."},
    ]
    assert request["tools"] == [
        {
            "type": "function",
            "function": {"name": "shell", "parameters": {"type": "object", "properties": {}}, "strict": False},
        },
        {
            "type": "custom",
            "custom": {
                "name": "apply_patch",
                "description": "Edit files.",
                "format": {"type": "grammar", "grammar": {"definition": "start: /.+/", "syntax": "lark"}},
            },
        },
    ]  # web_search runs on the server: chat has no such tool
    assert request["max_tokens"] == 500
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }
    assert request["stream_options"] == {"include_usage": True}


def test_a_string_input_is_one_user_message() -> None:
    request = responses_to_openai_request({"model": "gpt-4.1", "input": "Hi", "stream": True})
    assert request["messages"] == [{"role": "user", "content": "Hi"}]


def test_the_translations_round_trip() -> None:
    there_and_back = responses_to_openai_request(openai_to_responses_request(CHAT_UPSTREAM))
    assert there_and_back["messages"] == CHAT_UPSTREAM["messages"]
    assert there_and_back["tool_choice"] == CHAT_UPSTREAM["tool_choice"]
    back = openai_to_responses_request(responses_to_openai_request(RESPONSES_UPSTREAM))
    assert back["tools"] == RESPONSES_UPSTREAM["tools"][:2]
    assert back["input"][1:3] == RESPONSES_UPSTREAM["input"][1:3]


def test_client_requests_of_the_two_routes() -> None:
    assert client_request(CHAT_UPSTREAM, OPENAI_CHAT, OPENAI_RESPONSES) == openai_to_responses_request(CHAT_UPSTREAM)
    chat = client_request(RESPONSES_UPSTREAM, OPENAI_RESPONSES, OPENAI_CHAT)
    assert chat == responses_to_openai_request(RESPONSES_UPSTREAM)
    assert chat["stream_options"] == {"include_usage": True}
