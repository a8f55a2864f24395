"""The reference's openai-responses -> anthropic-messages route (conformance.targets.responses_to_anthropic)
and its request mapping (conformance.targets._requests), over a real loopback upstream.

Each test feeds a small hand-written Responses stream, in the shape OpenAI's recorded streams have
(named events, `sequence_number` from 0, the response object in the lifecycle events, usage only in
the terminal one), and asserts on the Anthropic events the client got.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _target_streams import anthropic_events, anthropic_text, drive

from conformance.client_request import client_request
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_RESPONSES
from conformance.replay import ReplayServer
from conformance.targets._requests import anthropic_to_responses_request, responses_to_anthropic_request
from conformance.targets.base import Route, Target
from conformance.targets.reference import Reference
from conformance.targets.responses_to_anthropic import responses_anthropic_usage

ROUTE: Route = (OPENAI_RESPONSES, ANTHROPIC_MESSAGES)
REQUEST: dict[str, Any] = {
    "model": "gpt-5.5",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}
RESP_ID = "resp_0a1b2c3d"
MODEL = "gpt-5.5-2026-04-23"
USAGE = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 12,
    "output_tokens_details": {"reasoning_tokens": 4},
    "total_tokens": 32,
}


@pytest.fixture
async def server() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as running:
        yield running


@pytest.fixture
def reference() -> Target:
    return Reference()


# -- Responses stream builders ----------------------------------------------------------------------


def _response(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": RESP_ID,
        "object": "response",
        "created_at": 1779100000,
        "status": status,
        "model": MODEL,
        "output": [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
        **fields,
    }


def opening() -> list[dict[str, Any]]:
    return [
        {"type": "response.created", "response": _response("in_progress")},
        {"type": "response.in_progress", "response": _response("in_progress")},
    ]


def completed(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "response.completed", "response": _response("completed", usage=usage or USAGE)}


def incomplete(reason: str) -> dict[str, Any]:
    response = _response("incomplete", usage=USAGE, incomplete_details={"reason": reason})
    return {"type": "response.incomplete", "response": response}


def message(index: int, *texts: str, refusal: bool = False, streamed: bool = True) -> list[dict[str, Any]]:
    """A message item with one part; `streamed=False` gives its text only in the .done events."""
    item_id = f"msg_{index}"
    kind, field = ("refusal", "refusal") if refusal else ("output_text", "text")
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    text = "".join(texts)
    empty = {"type": kind, field: ""}
    full = {"type": kind, field: text}
    added = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    done = {**added, "status": "completed", "content": [full]}
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        {"type": "response.content_part.added", **where, "part": empty},
    ]
    if streamed:
        events += [{"type": f"response.{kind}.delta", **where, "delta": piece} for piece in texts]
    events += [
        {"type": f"response.{kind}.done", **where, field: text},
        {"type": "response.content_part.done", **where, "part": full},
        {"type": "response.output_item.done", "output_index": index, "item": done},
    ]
    return events


def reasoning(index: int, *summary: str, encrypted: str = "gAAAAB-opaque") -> list[dict[str, Any]]:
    """A reasoning item with encrypted content and, when `summary` is given, one summary part."""
    item_id = f"rs_{index}"
    added = {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": encrypted}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": added}]
    text = "".join(summary)
    if summary:
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        part = {"type": "summary_text", "text": text}
        events += [
            {"type": "response.reasoning_summary_part.added", **where, "part": {"type": "summary_text", "text": ""}},
            *({"type": "response.reasoning_summary_text.delta", **where, "delta": piece} for piece in summary),
            {"type": "response.reasoning_summary_text.done", **where, "text": text},
            {"type": "response.reasoning_summary_part.done", **where, "part": part},
        ]
    done = {**added, "summary": [{"type": "summary_text", "text": text}] if summary else []}
    events.append({"type": "response.output_item.done", "output_index": index, "item": done})
    return events


def function_call(
    index: int, call_id: str, name: str, *deltas: str, done: str | None = None, item_done: str | None = None
) -> list[dict[str, Any]]:
    """A function call: its argument deltas, then `.done` with `done` (default: the deltas joined)
    unless `done` is "", then `output_item.done` with `item_done` (default: the same)."""
    item_id = f"fc_{index}"
    arguments = "".join(deltas) if done is None else done
    added = {"id": item_id, "type": "function_call", "status": "in_progress", "arguments": "", "call_id": call_id}
    added["name"] = name
    where = {"item_id": item_id, "output_index": index}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": added}]
    events += [{"type": "response.function_call_arguments.delta", **where, "delta": piece} for piece in deltas]
    if arguments:
        events.append({"type": "response.function_call_arguments.done", **where, "arguments": arguments})
    final = {**added, "status": "completed", "arguments": arguments if item_done is None else item_done}
    events.append({"type": "response.output_item.done", "output_index": index, "item": final})
    return events


def custom_call(index: int, call_id: str, name: str, *deltas: str) -> list[dict[str, Any]]:
    """A custom tool call as gpt-5.2-codex streams it: input deltas and no .done event."""
    item_id = f"ctc_{index}"
    added = {"id": item_id, "type": "custom_tool_call", "status": "in_progress", "call_id": call_id, "name": name}
    added["input"] = ""
    where = {"item_id": item_id, "output_index": index}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": added}]
    events += [{"type": "response.custom_tool_call_input.delta", **where, "delta": piece} for piece in deltas]
    final = {**added, "status": "completed", "input": "".join(deltas)}
    events.append({"type": "response.output_item.done", "output_index": index, "item": final})
    return events


def stream(*events: dict[str, Any] | str) -> bytes:
    """Named events numbered from 0 (a str is sent verbatim as unnamed data)."""
    out: list[str] = []
    for number, event in enumerate(events):
        if isinstance(event, str):
            out.append(f"data: {event}\n\n")
        else:
            data = {"type": event["type"], "sequence_number": number, **event}
            out.append(f"event: {event['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n")
    return "".join(out).encode("utf-8")


async def run(server: ReplayServer, reference: Target, *events: dict[str, Any] | str, **register: Any) -> Any:
    output, _ = await drive(server, reference, ROUTE, REQUEST, stream(*events), **register)
    return anthropic_events(output)


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


def blocks(events: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [data["content_block"] for name, data in events if name == "content_block_start"]


def tool_inputs(events: list[tuple[str, Any]]) -> list[Any]:
    """Each tool_use block's input, as the concatenated input_json_delta fragments parse."""
    inputs: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_start" and data["content_block"]["type"] == "tool_use":
            inputs[data["index"]] = ""
        elif name == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            inputs[data["index"]] += data["delta"]["partial_json"]
    return [json.loads(raw or "{}") for raw in inputs.values()]


def message_delta(events: list[tuple[str, Any]]) -> dict[str, Any]:
    [data] = [data for name, data in events if name == "message_delta"]
    return data


def assert_clean(events: list[tuple[str, Any]]) -> None:
    assert all(data["type"] == name for name, data in events)
    assert names(events)[0] == "message_start" and names(events)[-2:] == ["message_delta", "message_stop"]
    starts = [data["index"] for name, data in events if name == "content_block_start"]
    stops = [data["index"] for name, data in events if name == "content_block_stop"]
    assert starts == stops == list(range(len(starts)))


def assert_error(events: list[tuple[str, Any]], error_type: str = "api_error") -> dict[str, Any]:
    name, data = events[-1]
    assert name == "error" and data["type"] == "error" and data["error"]["type"] == error_type
    assert not {"message_delta", "message_stop"} & set(names(events))
    assert names(events).count("error") == 1
    return dict(data["error"])


# -- the stream -------------------------------------------------------------------------------------


async def test_text(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, "Hel", "lo"), completed())
    assert names(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert_clean(events)
    start = events[0][1]["message"]
    assert start["id"] == f"msg_{RESP_ID}" and start["model"] == MODEL and start["content"] == []
    assert start["stop_reason"] is None and start["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert blocks(events) == [{"type": "text", "text": ""}]
    assert anthropic_text(events) == "Hello"
    delta = message_delta(events)
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"input_tokens": 20, "cache_read_input_tokens": 0, "output_tokens": 12}


async def test_message_start_goes_out_before_any_output_item(server: ReplayServer, reference: Target) -> None:
    # The upstream's opening alone already reaches the client, which is how output keeps pace.
    events = await run(server, reference, *opening())
    assert names(events) == ["message_start", "error"]


async def test_reasoning_summary_then_text(server: ReplayServer, reference: Target) -> None:
    events = await run(
        server,
        reference,
        *opening(),
        *reasoning(0, "**Plan**\n\n", "Say hi."),
        *message(1, "Hi", "!"),
        completed(),
    )
    assert_clean(events)
    # No signature: the encrypted reasoning is OpenAI's, and none is invented.
    assert blocks(events) == [{"type": "thinking", "thinking": "", "signature": ""}, {"type": "text", "text": ""}]
    assert anthropic_text(events, "thinking_delta", "thinking") == "**Plan**\n\nSay hi."
    assert anthropic_text(events) == "Hi!"
    assert "signature_delta" not in {data["delta"]["type"] for name, data in events if name == "content_block_delta"}
    assert "gAAAAB-opaque" not in json.dumps(events)
    assert message_delta(events)["delta"]["stop_reason"] == "end_turn"


async def test_reasoning_without_summary_opens_no_block(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *reasoning(0), *message(1, "Canberra."), completed())
    assert_clean(events)
    assert blocks(events) == [{"type": "text", "text": ""}]
    assert anthropic_text(events) == "Canberra."


async def test_raw_reasoning_text_is_thinking_and_the_summary_is_not_repeated(
    server: ReplayServer, reference: Target
) -> None:
    where = {"item_id": "rs_0", "output_index": 0}
    raw = {"type": "reasoning_text", "text": "think"}
    summary = {"type": "summary_text", "text": "thought"}
    done = {"id": "rs_0", "type": "reasoning", "summary": [summary], "content": [raw]}
    events = await run(
        server,
        reference,
        *opening(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_0", "type": "reasoning"}},
        {"type": "response.content_part.added", **where, "content_index": 0, "part": {**raw, "text": ""}},
        {"type": "response.reasoning_text.delta", **where, "content_index": 0, "delta": "think"},
        {"type": "response.reasoning_text.done", **where, "content_index": 0, "text": "think"},
        {"type": "response.content_part.done", **where, "content_index": 0, "part": raw},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        completed(),
    )
    assert_clean(events)
    assert anthropic_text(events, "thinking_delta", "thinking") == "think"


@pytest.mark.parametrize("where", ["text-done", "part-done", "item-done"])
async def test_text_given_only_whole_is_not_lost(server: ReplayServer, reference: Target, where: str) -> None:
    # Only one place carries the text: the .done event, the part's done event, or the item's.
    kept: list[dict[str, Any]] = []
    for event in message(0, "Whole text.", streamed=False):
        kind = event["type"]
        if kind == "response.output_text.done" and where != "text-done":
            continue
        if kind == "response.content_part.done" and where != "part-done":
            event = {**event, "part": {"type": "output_text", "text": ""}}
        if kind == "response.output_item.done" and where != "item-done":
            event = {**event, "item": {**event["item"], "content": []}}
        kept.append(event)
    events = await run(server, reference, *opening(), *kept, completed())
    assert_clean(events)
    assert anthropic_text(events) == "Whole text."
    assert len(blocks(events)) == 1


async def test_text_is_sent_once_though_given_in_every_form(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, "Hel", "lo"), completed())
    assert anthropic_text(events) == "Hello"
    events = await run(server, reference, *opening(), *message(0, "Hello", streamed=False), completed())
    assert anthropic_text(events) == "Hello"


async def test_refusal_reaches_an_anthropic_client_as_text(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, "I can't", " help.", refusal=True), completed())
    assert_clean(events)
    assert blocks(events) == [{"type": "text", "text": ""}]
    assert anthropic_text(events) == "I can't help."
    assert message_delta(events)["delta"]["stop_reason"] == "end_turn"


async def test_empty_text_opens_no_block(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, ""), completed())
    assert_clean(events)
    assert blocks(events) == []


async def test_function_call(server: ReplayServer, reference: Target) -> None:
    events = await run(
        server,
        reference,
        *opening(),
        *function_call(0, "call_a", "get_weather", '{"city"', ':"Oslo"}'),
        completed(),
    )
    assert_clean(events)
    assert blocks(events) == [{"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}]
    assert tool_inputs(events) == [{"city": "Oslo"}]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("where", ["done-event", "item-done"])
async def test_arguments_given_only_whole_are_not_lost(server: ReplayServer, reference: Target, where: str) -> None:
    arguments = '{"city":"Oslo"}'
    call = (
        function_call(0, "call_a", "get_weather", done=arguments)
        if where == "done-event"
        else function_call(0, "call_a", "get_weather", done="", item_done=arguments)
    )
    events = await run(server, reference, *opening(), *call, completed())
    assert_clean(events)
    assert tool_inputs(events) == [{"city": "Oslo"}]
    fragments = [data for name, data in events if name == "content_block_delta"]
    assert [data["delta"]["partial_json"] for data in fragments] == [arguments]


async def test_parallel_calls_become_blocks_in_order(server: ReplayServer, reference: Target) -> None:
    events = await run(
        server,
        reference,
        *opening(),
        *message(0, "Checking both."),
        *function_call(1, "call_a", "get_weather", '{"city":"Tokyo"}'),
        *function_call(2, "call_b", "get_weather", '{"city":', '"Seoul"}'),
        completed(),
    )
    assert_clean(events)
    assert [(block["type"], block.get("id")) for block in blocks(events)] == [
        ("text", None),
        ("tool_use", "call_a"),
        ("tool_use", "call_b"),
    ]
    assert tool_inputs(events) == [{"city": "Tokyo"}, {"city": "Seoul"}]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_a_call_with_no_arguments_has_empty_input(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *function_call(0, "call_a", "now"), completed())
    assert_clean(events)
    assert tool_inputs(events) == [{}]


async def test_custom_tool_call_input_is_wrapped_as_a_string_property(server: ReplayServer, reference: Target) -> None:
    patch = ['*** Begin Patch\n+print("hi")\n', "*** End Patch\n"]
    events = await run(server, reference, *opening(), *custom_call(0, "call_p", "apply_patch", *patch), completed())
    assert_clean(events)
    assert blocks(events) == [{"type": "tool_use", "id": "call_p", "name": "apply_patch", "input": {}}]
    assert tool_inputs(events) == [{"input": "".join(patch)}]
    assert message_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_custom_tool_call_with_empty_input(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *custom_call(0, "call_p", "noop"), completed())
    assert_clean(events)
    assert tool_inputs(events) == [{"input": ""}]


async def test_server_tool_items_are_left_out(server: ReplayServer, reference: Target) -> None:
    search = {"id": "ws_0", "type": "web_search_call", "status": "in_progress"}
    action = {"type": "search", "query": "tour de france 2024"}
    events = await run(
        server,
        reference,
        *opening(),
        {"type": "response.output_item.added", "output_index": 0, "item": search},
        {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_0"},
        {"type": "response.output_item.done", "output_index": 0, "item": {**search, "action": action}},
        *message(1, "Pogačar."),
        completed(),
    )
    assert_clean(events)
    assert blocks(events) == [{"type": "text", "text": ""}]
    assert anthropic_text(events) == "Pogačar."
    assert message_delta(events)["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("terminal", "stop_reason"),
    [(incomplete("max_output_tokens"), "max_tokens"), (incomplete("content_filter"), "refusal")],
    ids=["max-output-tokens", "content-filter"],
)
async def test_incomplete_maps_to_a_stop_reason(
    server: ReplayServer, reference: Target, terminal: dict[str, Any], stop_reason: str
) -> None:
    events = await run(server, reference, *opening(), *message(0, "Around 1440,"), terminal)
    assert_clean(events)
    assert message_delta(events)["delta"]["stop_reason"] == stop_reason


async def test_incomplete_mid_call_is_max_tokens(server: ReplayServer, reference: Target) -> None:
    call = function_call(0, "call_a", "get_weather", '{"city":"Os')[:-2]  # no .done, no item done
    events = await run(server, reference, *opening(), *call, incomplete("max_output_tokens"))
    assert_clean(events)
    assert message_delta(events)["delta"]["stop_reason"] == "max_tokens"


def test_usage_leaves_the_cached_and_written_input_out_of_input_tokens() -> None:
    usage = {
        "input_tokens": 5120,
        "input_tokens_details": {"cached_tokens": 4864, "cache_write_tokens": 100},
        "output_tokens": 164,
        "output_tokens_details": {"reasoning_tokens": 97},
    }
    assert responses_anthropic_usage(usage) == {
        "input_tokens": 156,
        "cache_read_input_tokens": 4864,
        "cache_creation_input_tokens": 100,
        "output_tokens": 164,
    }
    assert responses_anthropic_usage({"input_tokens": 7, "output_tokens": 3}) == {"input_tokens": 7, "output_tokens": 3}
    assert responses_anthropic_usage({}) == {"input_tokens": 0, "output_tokens": 0}


# -- failures -----------------------------------------------------------------------------------------


async def test_error_then_failed_is_one_error_event(server: ReplayServer, reference: Target) -> None:
    error = {"type": "insufficient_quota", "code": "insufficient_quota", "message": "You exceeded your quota."}
    failed = _response("failed", error={"code": "insufficient_quota", "message": "You exceeded your quota."})
    events = await run(
        server,
        reference,
        *opening(),
        *message(0, "Half")[:3],
        {"type": "error", "error": {**error, "param": None}},
        {"type": "response.failed", "response": failed},
    )
    assert anthropic_text(events) == "Half"
    assert assert_error(events)["message"] == "You exceeded your quota."
    assert "content_block_stop" not in names(events)


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        ({"code": "server_error", "message": "An error occurred.", "param": None}, "api_error"),
        ({"code": "rate_limit_exceeded", "message": "Slow down.", "param": None}, "rate_limit_error"),
    ],
    ids=["server-error", "rate-limit"],
)
async def test_flat_error_event(
    server: ReplayServer, reference: Target, error: dict[str, Any], error_type: str
) -> None:
    events = await run(server, reference, *opening(), {"type": "error", **error})
    assert assert_error(events, error_type)["message"] == error["message"]


async def test_failed_alone_carries_the_response_error(server: ReplayServer, reference: Target) -> None:
    failed = _response("failed", error={"code": "server_error", "message": "The model crashed."})
    events = await run(server, reference, *opening(), {"type": "response.failed", "response": failed})
    assert assert_error(events)["message"] == "The model crashed."


@pytest.mark.parametrize("reset", [False, True], ids=["eof", "reset"])
async def test_cut_off_is_an_error_event(server: ReplayServer, reference: Target, reset: bool) -> None:
    call = function_call(0, "call_a", "get_weather", '{"city":"Reykj')[:-2]
    events = await run(server, reference, *opening(), *call, reset_at_end=reset)
    assert blocks(events) == [{"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}]
    # The argument text that arrived is kept; the cut block is left open, as nothing is finished
    # after an error.
    fragments = [data["delta"]["partial_json"] for name, data in events if name == "content_block_delta"]
    assert fragments == ['{"city":"Reykj']
    assert "content_block_stop" not in names(events)
    assert "terminal event" in assert_error(events)["message"]


async def test_data_that_is_not_json_is_an_error_event(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, "Hi")[:3], "{not json", completed())
    assert anthropic_text(events) == "Hi"
    assert "not JSON" in assert_error(events)["message"]


async def test_done_before_the_terminal_event_is_an_error_event(server: ReplayServer, reference: Target) -> None:
    events = await run(server, reference, *opening(), *message(0, "Hi")[:3], "[DONE]")
    assert "[DONE]" in assert_error(events)["message"]


async def test_open_responses_done_after_the_terminal_event_is_not_read(
    server: ReplayServer, reference: Target
) -> None:
    events = await run(server, reference, *opening(), *message(0, "Hi"), completed(), "[DONE]")
    assert_clean(events)


@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        (
            429,
            {"error": {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit_exceeded"}},
            "rate_limit_error",
        ),
        (500, {"error": {"message": "Internal server error.", "type": "server_error", "code": None}}, "api_error"),
        (503, {"error": {"message": "Overloaded.", "type": "server_error", "code": None}}, "overloaded_error"),
    ],
    ids=["429", "500", "503"],
)
async def test_http_error_status_is_an_error_event(
    server: ReplayServer, reference: Target, status: int, body: dict[str, Any], error_type: str
) -> None:
    output, _ = await drive(server, reference, ROUTE, REQUEST, json.dumps(body).encode(), status=status)
    events = anthropic_events(output)
    assert names(events) == ["error"]
    assert body["error"]["message"] in assert_error(events, error_type)["message"]


# -- the request ------------------------------------------------------------------------------------

RESPONSES_REQUEST: dict[str, Any] = {
    "model": "gpt-5.2-codex",
    "instructions": "You are a coding agent.",
    "input": [
        {"role": "developer", "content": "Be terse."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB-opaque"},
        {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]},
        {"type": "message", "role": "user", "content": "Now patch it."},
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch\n"},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done."},
    ],
    "tools": [
        {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
        {
            "type": "custom",
            "name": "apply_patch",
            "description": "Edit files.",
            "format": {"type": "grammar", "syntax": "lark", "definition": "start: hunk+"},
        },
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
    ],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "parallel_tool_calls": False,
    "max_output_tokens": 300,
    "temperature": 0.2,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "store": False,
    "stream": True,
}


def test_responses_request_as_an_anthropic_request() -> None:
    client = responses_to_anthropic_request(RESPONSES_REQUEST)
    assert client["model"] == "gpt-5.2-codex" and client["max_tokens"] == 300 and client["stream"] is True
    assert client["temperature"] == 0.2
    assert client["system"] == "You are a coding agent.\n\nBe terse."
    assert client["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Oslo"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"}]},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "Now patch it."},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_p", "name": "apply_patch", "input": {"input": "*** Begin Patch\n"}}
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_p", "content": "Done."}]},
    ]
    weather, patch, search = client["tools"]
    assert weather == {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    assert patch["name"] == "apply_patch" and patch["description"] == "Edit files."
    schema = patch["input_schema"]
    assert schema["type"] == "object" and schema["required"] == ["input"]
    assert schema["properties"]["input"]["type"] == "string"
    assert "start: hunk+" in schema["properties"]["input"]["description"]
    assert search == {"type": "web_search_20250305", "name": "web_search"}
    assert client["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    assert "reasoning" not in client and "store" not in client


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", False, {"type": "none"}),
        ({"type": "custom", "name": "apply_patch"}, None, {"type": "tool", "name": "apply_patch"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    request: dict[str, Any] = {"model": "m", "input": "hi", "tools": RESPONSES_REQUEST["tools"][:1]}
    if choice is not None:
        request["tool_choice"] = choice
    if parallel is not None:
        request["parallel_tool_calls"] = parallel
    assert responses_to_anthropic_request(request).get("tool_choice") == expected


def test_a_string_input_is_one_user_message_and_max_tokens_has_a_default() -> None:
    client = client_request({"model": "gpt-4.1", "input": "Hi", "stream": True}, OPENAI_RESPONSES, ANTHROPIC_MESSAGES)
    assert client == {
        "model": "gpt-4.1",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }


def test_anthropic_request_as_a_responses_request() -> None:
    request = {
        "model": "gpt-5.5",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief."}],
        "stop_sequences": ["END"],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Look it up.", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_a", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
        "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {"type": "bash_20250124", "name": "bash"},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stream": True,
    }
    upstream = anthropic_to_responses_request(request)
    assert upstream == {
        "model": "gpt-5.5",
        "instructions": "Be brief.",
        "input": [
            {"type": "message", "role": "user", "content": "Weather in Oslo?"},
            {"type": "message", "role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
            {"type": "message", "role": "user", "content": "Thanks."},
        ],
        "max_output_tokens": 512,
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
            {"type": "web_search"},
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "stream": True,
    }


def test_the_conversation_round_trips() -> None:
    # What the route sends upstream for the client request derived from a recording is the
    # recording's conversation again: a custom tool comes back as a function tool taking {"input"},
    # and the reasoning item, which no Anthropic client can send, is left out.
    there_and_back = anthropic_to_responses_request(responses_to_anthropic_request(RESPONSES_REQUEST))
    assert there_and_back["instructions"] == "You are a coding agent.\n\nBe terse."
    assert [item.get("type") for item in there_and_back["input"]] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert there_and_back["input"][1] == RESPONSES_REQUEST["input"][3]
    assert there_and_back["input"][5]["arguments"] == json.dumps({"input": "*** Begin Patch\n"}, separators=(",", ":"))
    assert [tool["type"] for tool in there_and_back["tools"]] == ["function", "function", "web_search"]
    assert there_and_back["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert there_and_back["parallel_tool_calls"] is False
    assert there_and_back["max_output_tokens"] == 300 and there_and_back["temperature"] == 0.2


async def test_the_route_sends_a_streaming_responses_request(server: ReplayServer, reference: Target) -> None:
    request = {**REQUEST, "system": "Be brief."}
    _, slot = await drive(server, reference, ROUTE, request, stream(*opening(), *message(0, "x"), completed()))
    assert slot.requests[0].path.endswith("/v1/responses")
    assert slot.requests[0].json() == {
        "model": "gpt-5.5",
        "instructions": "Be brief.",
        "input": [{"type": "message", "role": "user", "content": "hi"}],
        "max_output_tokens": 256,
        "stream": True,
    }


def test_reference_serves_the_route() -> None:
    assert ROUTE in Reference().routes
