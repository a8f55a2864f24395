"""The openai-responses protocol: its view and assembler, its invariants, the profiles, and the
semantic checks when the client speaks Responses.

The streams are built here, event by event, in the formats OpenAI's recorded Responses streams
have: named events (`event: <type>`), compact JSON with `type` then `sequence_number` first,
`sequence_number` counting from 0, a response object with OpenAI's fields, `logprobs: []` and
`obfuscation` on text deltas, reasoning items with `encrypted_content` and summary parts, function
calls whose `.done` event has no `name`, a custom tool call with no `.done` event, a web search with
`url_citation` annotations, and OpenAI's nested error event followed by `response.failed`.

Each invariant has a passing and a failing stream (`CASES`), and no invariant passes an output in
which nothing works. The strict invariants are proven tolerated: openai-python's Responses stream
helper reads the deviating stream as the conforming one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.checks import build_context, check
from conformance.invariants import evaluate, registry
from conformance.neutral import ToolCall
from conformance.protocols import (
    ANTHROPIC_MESSAGES,
    OPEN_RESPONSES_PROFILE,
    OPENAI_CHAT,
    OPENAI_PROFILE,
    OPENAI_RESPONSES,
)
from conformance.protocols import openai_responses as responses
from conformance.stream import Context

RS = OPENAI_RESPONSES
RESP_ID = "resp_07a1c3e5b2d94f68006a1d2e4f8a6c81a0b3d5e7f9c1a2b3c4"
MSG_ID = "msg_07a1c3e5b2d94f68006a1d2e5a10b4c2d9e8f7a6b5c4d3e2f1"
RS_ID = "rs_07a1c3e5b2d94f68006a1d2e4fc1a8d3b6e9f2a5c8d1e4f7a0b3"
FC_A = "fc_07a1c3e5b2d94f68006a1d2e7c32d6e4f1a0b9c8d7e6f5a4b3c2"
FC_B = "fc_07a1c3e5b2d94f68006a1d2e8d43e7f5a2b1c0d9e8f7a6b5c4d3"
CT_ID = "ctc_07a1c3e5b2d94f68006a1d2e9e54f8a6b3c2d1e0f9a8b7c6d5e4"
WS_ID = "ws_07a1c3e5b2d94f68006a1d2e4fd2b9e4c7f0a3b6d9e2f5a8b1c4"
CALL_A = "call_Qm4kT7vR2xLp9sN3wZ8yB5cD"
CALL_B = "call_Hf6jU1eW4nK8rT2qV7mA3sG9"
CALL_CT = "call_Zt5nB8cX1vM4kL7jH2gF6dS3"
MODEL = "gpt-5.5-2026-04-23"
CREATED_AT = 1779100000
ENCRYPTED = "gAAAAABpXk2f8hQ1c0Jm3vR7tY5wK9zL2nB6xD4sF8gH1jA3qE7uI0oP5rT9yW2"
_OBFUSCATION = ("VTjmFwAGgIo", "PfjFymS7", "k6", "Y", "0Jl6nQ")

Event = dict[str, Any]
NO_NAME = object()
"""As `_event`'s value: the event is sent without an `event:` line."""
UNNUMBERED = object()
"""As `sequence_number`'s value: the event carries no sequence_number."""


# =========================================================================================
# Event constructors
# =========================================================================================


def usage(prompt: int = 20, output: int = 18, *, cached: int = 0, reasoning: int = 10) -> dict[str, Any]:
    """A Responses usage report as OpenAI sends it (no cache_write_tokens)."""
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


def response(
    status: str,
    output: Iterable[dict[str, Any]] = (),
    *,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response object of a lifecycle event, with the fields OpenAI sends in 2026."""
    return {
        "id": RESP_ID,
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "background": False,
        "completed_at": CREATED_AT + 2 if status == "completed" else None,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": list(output),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": "medium", "summary": None},
        "service_tier": "auto",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 0.98,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def start() -> list[Event]:
    """`response.created` then `response.in_progress`, as every OpenAI stream opens."""
    return [
        {"type": "response.created", "response": response("in_progress")},
        {"type": "response.in_progress", "response": response("in_progress")},
    ]


@dataclass
class Turn:
    """The events of one output item, and the item as `response.output_item.done` gives it."""

    events: list[Event]
    item: dict[str, Any]


def message(index: int, *pieces: str, msg_id: str = MSG_ID, annotations: Iterable[dict[str, Any]] = ()) -> Turn:
    """A message item with one output_text part: added, part added, deltas, annotations, text done,
    part done, item done."""
    text = "".join(pieces)
    where = {"item_id": msg_id, "output_index": index, "content_index": 0}
    notes = list(annotations)
    part = {"type": "output_text", "annotations": notes, "logprobs": [], "text": text}
    item = {"id": msg_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
    events: list[Event] = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"id": msg_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
        },
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
        },
    ]
    for n, piece in enumerate(pieces):
        events.append(
            {
                "type": "response.output_text.delta",
                **where,
                "delta": piece,
                "logprobs": [],
                "obfuscation": _OBFUSCATION[n % len(_OBFUSCATION)],
            }
        )
    for n, note in enumerate(notes):
        events.append(
            {"type": "response.output_text.annotation.added", **where, "annotation_index": n, "annotation": note}
        )
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]
    return Turn(events, item)


def refusal(index: int, *pieces: str, msg_id: str = MSG_ID) -> Turn:
    """A message item whose one part is a refusal."""
    text = "".join(pieces)
    where = {"item_id": msg_id, "output_index": index, "content_index": 0}
    item = {
        "id": msg_id,
        "type": "message",
        "status": "completed",
        "content": [{"type": "refusal", "refusal": text}],
        "role": "assistant",
    }
    events: list[Event] = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"id": msg_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"},
        },
        {"type": "response.content_part.added", **where, "part": {"type": "refusal", "refusal": ""}},
        *({"type": "response.refusal.delta", **where, "delta": piece} for piece in pieces),
        {"type": "response.refusal.done", **where, "refusal": text},
        {"type": "response.content_part.done", **where, "part": {"type": "refusal", "refusal": text}},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]
    return Turn(events, item)


def reasoning(index: int, *summary: list[str], encrypted: str | None = ENCRYPTED, rs_id: str = RS_ID) -> Turn:
    """A reasoning item: each summary part added, its deltas, its text done, the part done; no
    summary at all for an encrypted-only (or empty) reasoning item, which goes added → done."""
    base: dict[str, Any] = {"id": rs_id, "type": "reasoning"}
    if encrypted is not None:
        base["encrypted_content"] = encrypted
    events: list[Event] = [
        {"type": "response.output_item.added", "output_index": index, "item": {**base, "summary": []}}
    ]
    parts = []
    for n, pieces in enumerate(summary):
        where = {"item_id": rs_id, "output_index": index, "summary_index": n}
        text = "".join(pieces)
        events.append(
            {"type": "response.reasoning_summary_part.added", **where, "part": {"type": "summary_text", "text": ""}}
        )
        events += [
            {"type": "response.reasoning_summary_text.delta", **where, "delta": piece, "obfuscation": "2ajSAGID"}
            for piece in pieces
        ]
        events.append({"type": "response.reasoning_summary_text.done", **where, "text": text})
        events.append(
            {"type": "response.reasoning_summary_part.done", **where, "part": {"type": "summary_text", "text": text}}
        )
        parts.append({"type": "summary_text", "text": text})
    item = {**base, "summary": parts}
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return Turn(events, item)


def function_call(
    index: int,
    name: str,
    *pieces: str,
    fc_id: str = FC_A,
    call_id: str = CALL_A,
    arguments: str | None = None,
    done_event: bool = True,
) -> Turn:
    """A function_call item: added with arguments "", argument deltas, `.done` (without `name`, as
    OpenAI sends it), item done. `arguments` overrides the final arguments when no delta carries them."""
    whole = "".join(pieces) if arguments is None else arguments
    where = {"item_id": fc_id, "output_index": index}
    head = {
        "id": fc_id,
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": call_id,
        "name": name,
    }
    item = {**head, "status": "completed", "arguments": whole}
    events: list[Event] = [{"type": "response.output_item.added", "output_index": index, "item": head}]
    events += [
        {"type": "response.function_call_arguments.delta", **where, "delta": piece, "obfuscation": "hKtg6o5c"}
        for piece in pieces
    ]
    if done_event:
        events.append({"type": "response.function_call_arguments.done", **where, "arguments": whole})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return Turn(events, item)


def custom_call(index: int, name: str, *pieces: str, done_event: bool = False) -> Turn:
    """A custom_tool_call item: input deltas and, as gpt-5.2-codex streams it, no `.done` event."""
    whole = "".join(pieces)
    where = {"item_id": CT_ID, "output_index": index}
    head = {"type": "custom_tool_call", "id": CT_ID, "call_id": CALL_CT, "name": name, "input": ""}
    item = {**head, "input": whole, "status": "completed"}
    events: list[Event] = [{"type": "response.output_item.added", "output_index": index, "item": head}]
    events += [{"type": "response.custom_tool_call_input.delta", **where, "delta": piece} for piece in pieces]
    if done_event:
        events.append({"type": "response.custom_tool_call_input.done", **where, "input": whole})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return Turn(events, item)


SOURCES = [
    {"type": "url", "url": "https://www.visitberlin.de/en/berlin-2026-the-main-events"},
    {"type": "url", "url": "https://en.wikipedia.org/wiki/Berlin_Art_Week"},
]
ACTION = {"type": "search", "query": "Berlin events this week", "sources": SOURCES}


def web_search(index: int) -> Turn:
    """A web_search_call item: added in progress, its three progress events, done with its action."""
    where = {"output_index": index, "item_id": WS_ID}
    item = {"id": WS_ID, "type": "web_search_call", "status": "completed", "action": ACTION}
    events: list[Event] = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"id": WS_ID, "type": "web_search_call", "status": "in_progress"},
        },
        {"type": "response.web_search_call.in_progress", **where},
        {"type": "response.web_search_call.searching", **where},
        {"type": "response.web_search_call.completed", **where},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]
    return Turn(events, item)


def completed(*turns: Turn, usage: dict[str, Any] | None = None) -> Event:
    return {"type": "response.completed", "response": response("completed", [t.item for t in turns], usage=usage)}


def incomplete(*turns: Turn, reason: str = "max_output_tokens", usage: dict[str, Any] | None = None) -> Event:
    return {
        "type": "response.incomplete",
        "response": response("incomplete", [t.item for t in turns], usage=usage, incomplete={"reason": reason}),
    }


def failed(code: str = "insufficient_quota", message: str = "You exceeded your current quota.") -> Event:
    return {"type": "response.failed", "response": response("failed", error={"code": code, "message": message})}


def nested_error(kind: str = "insufficient_quota", message: str = "You exceeded your current quota.") -> Event:
    """OpenAI's error event: the fields nested under `error`."""
    return {"type": "error", "error": {"type": kind, "code": kind, "message": message, "param": None}}


def flat_error(code: str | None = "server_error", message: str = "The server had an error.") -> Event:
    """The spec's error event: the fields at the top level."""
    return {"type": "error", "code": code, "message": message, "param": None}


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def sse(*groups: Event | Turn | list[Event] | str, done: bool = False, first: int = 0) -> bytes:
    """The stream's bytes: each event as `event: <type>` and `data: <compact json>`, its
    `sequence_number` (type first, then sequence_number) counting from `first`; a str verbatim;
    `data: [DONE]` last when `done`. An event's `_event` key overrides its SSE name (NO_NAME: none),
    and a `sequence_number` it already has (UNNUMBERED: none) is kept."""
    out: list[str] = []
    number = first
    for group in groups:
        for event in group.events if isinstance(group, Turn) else group if isinstance(group, list) else [group]:
            if isinstance(event, str):
                out.append(event)
                continue
            data = dict(event)
            name = data.pop("_event", data["type"])
            given = data.pop("sequence_number", number)
            body = {"type": data.pop("type")}
            if given is not UNNUMBERED:
                body["sequence_number"] = given
            body.update(data)
            number += 1
            out.append((f"event: {name}\n" if name is not NO_NAME else "") + f"data: {compact(body)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode("utf-8")


def events_of(*groups: Event | Turn | list[Event]) -> list[Event]:
    flat: list[Event] = []
    for group in groups:
        flat += group.events if isinstance(group, Turn) else group if isinstance(group, list) else [group]
    return flat


# =========================================================================================
# The streams
# =========================================================================================

HELLO = message(1, "Hello", "!")
EMPTY_REASONING = reasoning(0, encrypted=None)
TEXT = sse(start(), EMPTY_REASONING, HELLO, completed(EMPTY_REASONING, HELLO, usage=usage()))
TEXT_EXPECT = {
    "text": "Hello!",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [],
    "signatures": [],
    "finish": "stop",
    "usage": {"input_tokens": 20, "cached_input_tokens": 0, "output_tokens": 18, "reasoning_tokens": 10},
}

SUMMARY = reasoning(
    0,
    ["**Checking the weather**", "\n\nThe user wants Paris."],
    ["**Calling the tool**", "\n\nOne call will do."],
)
PARIS = message(1, "It is ", "sunny in Paris.")
REASONING = sse(start(), SUMMARY, PARIS, completed(SUMMARY, PARIS, usage=usage(31, 64, reasoning=40)))

SECRET = reasoning(0)
OK = message(1, "OK.")
ENCRYPTED_ONLY = sse(start(), SECRET, OK, completed(SECRET, OK, usage=usage(12, 30, reasoning=26)))
ENCRYPTED_EXPECT = {
    "text": "OK.",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [],
    "signatures": [ENCRYPTED],
    "finish": "stop",
    "usage": {"input_tokens": 12, "cached_input_tokens": 0, "output_tokens": 30, "reasoning_tokens": 26},
}
# An Anthropic thinking signature, as a capture of that protocol lists it.
THINKING_SIGNATURE = "EqQBCkgIBxABGAIiQK3kPpx6N0VsCwXnzpYdQvJ9hA3oT2sLmFq8rW5uZc1eDb7yGi4jKt0/SvRnUoMa=="


def encrypted_only(encrypted: str | None) -> bytes:
    """ENCRYPTED_ONLY with another encrypted_content on its reasoning item (None: none at all)."""
    secret = reasoning(0, encrypted=encrypted)
    return sse(start(), secret, OK, completed(secret, OK, usage=usage(12, 30, reasoning=26)))


WEATHER = function_call(0, "get_weather", '{"ci', 'ty":"Par', 'is"}')
TOOL = sse(start(), WEATHER, completed(WEATHER, usage=usage(60, 17, reasoning=0)))
TOOL_EXPECT = {
    "text": "",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [{"id": CALL_A, "name": "get_weather", "arguments": {"city": "Paris"}}],
    "signatures": [],
    "finish": "tool_calls",
    "usage": {"input_tokens": 60, "cached_input_tokens": 0, "output_tokens": 17, "reasoning_tokens": 0},
}

WEATHER_B = function_call(1, "get_weather", '{"city":', '"Oslo"}', fc_id=FC_B, call_id=CALL_B)
PARALLEL = sse(start(), WEATHER, WEATHER_B, completed(WEATHER, WEATHER_B, usage=usage(60, 34, reasoning=0)))

WHOLE_IN_DONE = function_call(0, "get_time", arguments='{"zone":"CET"}')
ARGS_ONLY_IN_DONE = sse(start(), WHOLE_IN_DONE, completed(WHOLE_IN_DONE))
WHOLE_IN_ITEM = function_call(0, "get_time", arguments='{"zone":"UTC"}', done_event=False)
ARGS_ONLY_IN_ITEM = sse(start(), WHOLE_IN_ITEM, completed(WHOLE_IN_ITEM))

SQL = custom_call(0, "write_sql", "SELECT * ", "FROM users ", "WHERE age > 25")
CUSTOM = sse(start(), SQL, completed(SQL, usage=usage(50, 20, reasoning=0)))

NO = refusal(0, "I'm sorry, ", "I can't help with that.")
REFUSAL = sse(start(), NO, completed(NO, usage=usage(15, 9, reasoning=0)))
REFUSAL_EXPECT = {
    "text": "",
    "reasoning": "",
    "refusal": "I'm sorry, I can't help with that.",
    "tool_calls": [],
    "signatures": [],
    "finish": "stop",
}

CUT_SHORT = message(0, "The lighthouse keeper ", "climbed the")
INCOMPLETE = sse(start(), CUT_SHORT, incomplete(CUT_SHORT, usage=usage(14, 16, reasoning=0)))

NESTED_ERROR = sse(start(), nested_error(), failed())
ERROR_EXPECT = {
    "text": "",
    "reasoning": "",
    "refusal": "",
    "tool_calls": [],
    "signatures": [],
    "finish": None,
    "error": {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "message": "You exceeded your current quota.",
    },
}
NEG_ERROR = {"kind": "upstream-error", "reason": "insufficient_quota before any output"}

PARTIAL = message(0, "Hello", " there")
FLAT_ERROR = sse(start(), PARTIAL, flat_error(), failed("server_error", "The server had an error."))

CUT_OFF = sse(start(), PARTIAL.events[:4])  # added, part added, two deltas: then the body ends
CUT_EXPECT = {"text": "Hello there", "reasoning": "", "refusal": "", "tool_calls": [], "signatures": [], "finish": None}
NEG_CUT = {"kind": "cut-off", "reason": "EOF after the second text delta"}

CITATIONS = [
    {
        "type": "url_citation",
        "end_index": 79,
        "start_index": 12,
        "title": "Berlin 2026 – the main events | visitBerlin.de",
        "url": "https://www.visitberlin.de/en/berlin-2026-the-main-events",
    },
    {
        "type": "url_citation",
        "end_index": 160,
        "start_index": 95,
        "title": "Berlin Art Week - Wikipedia",
        "url": "https://en.wikipedia.org/wiki/Berlin_Art_Week",
    },
]
SEARCH = web_search(1)
ANSWER_PIECES = (
    "This week: ([visitberlin.de](https://www.visitberlin.de/en/berlin-2026-the-main-events))",
    " and Art Week ([wikipedia.org](https://en.wikipedia.org/wiki/Berlin_Art_Week)).",
)
ANSWER = message(2, *ANSWER_PIECES, annotations=CITATIONS)
WEB_SEARCH = sse(start(), EMPTY_REASONING, SEARCH, ANSWER, completed(EMPTY_REASONING, SEARCH, ANSWER, usage=usage()))

CORRECT = {
    "text": TEXT,
    "reasoning-summary": REASONING,
    "encrypted-only": ENCRYPTED_ONLY,
    "tool": TOOL,
    "parallel": PARALLEL,
    "args-only-in-done": ARGS_ONLY_IN_DONE,
    "args-only-in-item": ARGS_ONLY_IN_ITEM,
    "custom-tool": CUSTOM,
    "refusal": REFUSAL,
    "incomplete": INCOMPLETE,
    "nested-error": NESTED_ERROR,
    "flat-error": FLAT_ERROR,
    "web-search": WEB_SEARCH,
}


def ctx_of(raw: bytes, **kw: Any) -> Context:
    return build_context(raw, RS, **kw)


# =========================================================================================
# The assembler
# =========================================================================================


def test_text() -> None:
    message = ctx_of(TEXT).message
    assert (message.text, message.reasoning, message.refusal, message.finish) == ("Hello!", "", "", "stop")
    assert message.done and message.error is None and message.tool_calls == []
    assert message.usage == TEXT_EXPECT["usage"]


def test_reasoning_summary() -> None:
    message = ctx_of(REASONING).message
    assert message.reasoning == (
        "**Checking the weather**\n\nThe user wants Paris.**Calling the tool**\n\nOne call will do."
    )
    assert message.text == "It is sunny in Paris."
    assert message.usage == {"input_tokens": 31, "cached_input_tokens": 0, "output_tokens": 64, "reasoning_tokens": 40}
    assert message.signatures == [ENCRYPTED]


def test_encrypted_only_reasoning_adds_no_text() -> None:
    message = ctx_of(ENCRYPTED_ONLY).message
    assert (message.reasoning, message.text, message.finish) == ("", "OK.", "stop")
    assert message.usage is not None and message.usage["reasoning_tokens"] == 26
    assert message.expect() == ENCRYPTED_EXPECT


def done_with(turn: Turn, encrypted: str | None) -> Turn:
    """A reasoning item whose output_item.done carries another encrypted_content (None: null)."""
    item = {**turn.item, "encrypted_content": encrypted}
    return Turn([*turn.events[:-1], {**turn.events[-1], "item": item}], item)


def test_encrypted_reasoning_is_each_completed_items() -> None:
    """Each reasoning item's encrypted_content in output order: output_item.done's, which OpenAI
    encrypts again, over output_item.added's (which may be incomplete); the added one's when the
    done item has none; nothing for an item with neither."""
    first = done_with(reasoning(0, encrypted=ENCRYPTED[:24]), ENCRYPTED)
    second = done_with(reasoning(1, encrypted=ENCRYPTED + "b", rs_id=RS_ID + "b"), None)
    third = reasoning(2, encrypted="", rs_id=RS_ID + "c")
    answer = message(3, "OK.")
    raw = sse(start(), first, second, third, answer, completed(first, second, third, answer))
    assert ctx_of(raw).message.signatures == [ENCRYPTED, ENCRYPTED + "b"]


def test_raw_reasoning_text_wins_over_the_summary() -> None:
    """A reasoning item that streams raw reasoning and a summary says the same reasoning twice: the raw text is taken."""
    where = {"item_id": RS_ID, "output_index": 0, "content_index": 0}
    raw = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": RS_ID, "type": "reasoning", "summary": [], "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {"type": "reasoning_text", "text": ""}},
        {"type": "response.reasoning_text.delta", **where, "delta": "Two plus two "},
        {"type": "response.reasoning_text.delta", **where, "delta": "is four."},
        {"type": "response.reasoning_text.done", **where, "text": "Two plus two is four."},
        {
            "type": "response.content_part.done",
            **where,
            "part": {"type": "reasoning_text", "text": "Two plus two is four."},
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "id": RS_ID,
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Adding."}],
                "content": [{"type": "reasoning_text", "text": "Two plus two is four."}],
            },
        },
    ]
    four = message(1, "4")
    ctx = ctx_of(sse(start(), raw, four, completed(four)))
    assert ctx.message.reasoning == "Two plus two is four."
    assert [v.invariant for v in check(ctx) if v.failing] == []


def test_function_call() -> None:
    (call,) = ctx_of(TOOL).message.tool_calls
    assert call == ToolCall(CALL_A, "get_weather", {"city": "Paris"}, True, '{"city":"Paris"}')
    assert ctx_of(TOOL).message.finish == "tool_calls"


def test_parallel_calls_stay_apart() -> None:
    calls = ctx_of(PARALLEL).message.tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        (CALL_A, "get_weather", {"city": "Paris"}),
        (CALL_B, "get_weather", {"city": "Oslo"}),
    ]


@pytest.mark.parametrize(
    ("raw", "arguments"),
    [(ARGS_ONLY_IN_DONE, {"zone": "CET"}), (ARGS_ONLY_IN_ITEM, {"zone": "UTC"})],
    ids=["done", "item"],
)
def test_arguments_given_only_whole_are_kept(raw: bytes, arguments: dict[str, Any]) -> None:
    """Arguments sent with no delta, only in `.done` or only in `output_item.done`, are not lost."""
    (call,) = ctx_of(raw).message.tool_calls
    assert (call.id, call.name, call.arguments) == (CALL_A, "get_time", arguments)


def test_arguments_given_only_when_added_are_kept() -> None:
    """A call that arrives whole in output_item.added and is cut off before its done event keeps them."""
    head = {
        "id": FC_A,
        "type": "function_call",
        "status": "in_progress",
        "arguments": '{"a":1}',
        "call_id": CALL_A,
        "name": "f",
    }
    (call,) = ctx_of(
        sse(start(), {"type": "response.output_item.added", "output_index": 0, "item": head})
    ).message.tool_calls
    assert call.arguments == {"a": 1}


def test_custom_tool_without_done_event() -> None:
    (call,) = ctx_of(CUSTOM).message.tool_calls
    assert call == ToolCall(
        CALL_CT, "write_sql", "SELECT * FROM users WHERE age > 25", True, "SELECT * FROM users WHERE age > 25"
    )
    assert ctx_of(CUSTOM).message.finish == "tool_calls"


def test_refusal_is_kept_apart_from_text() -> None:
    message = ctx_of(REFUSAL).message
    assert (message.text, message.refusal, message.finish) == ("", "I'm sorry, I can't help with that.", "stop")


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
def test_incomplete(reason: str, finish: str) -> None:
    raw = sse(start(), CUT_SHORT, incomplete(CUT_SHORT, reason=reason, usage=usage(14, 16, reasoning=0)))
    message = ctx_of(raw).message
    assert (message.text, message.finish, message.done, message.error) == (
        "The lighthouse keeper climbed the",
        finish,
        True,
        None,
    )


def test_nested_error_then_failed() -> None:
    message = ctx_of(NESTED_ERROR).message
    assert message.error == {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "message": "You exceeded your current quota.",
        "param": None,
    }
    assert (message.finish, message.done) == (None, False)
    assert message.expect(broken=True)["error"] == ERROR_EXPECT["error"]


def test_flat_error_then_failed() -> None:
    message = ctx_of(FLAT_ERROR).message
    assert message.error == {"code": "server_error", "message": "The server had an error.", "param": None}
    assert (message.text, message.finish, message.done) == ("Hello there", None, False)


def test_failed_without_error_event_reports_the_responses_error() -> None:
    message = ctx_of(sse(start(), failed("server_error", "The model failed."))).message
    assert message.error == {"code": "server_error", "message": "The model failed."}
    assert not message.done


def test_cut_off_stream() -> None:
    message = ctx_of(CUT_OFF).message
    assert (message.text, message.finish, message.done, message.error, message.usage) == (
        "Hello there",
        None,
        False,
        None,
        None,
    )


def test_web_search_and_url_citations() -> None:
    message = ctx_of(WEB_SEARCH).message
    assert message.server_tools == [{"type": "web_search_call", "id": WS_ID, "input": ACTION}]
    assert message.citations == CITATIONS
    assert message.tool_calls == [] and message.finish == "stop"
    assert message.text.startswith("This week: ([visitberlin.de]")


def test_text_sent_whole_is_kept() -> None:
    """A proxy that sends only output_text.done, or only the final item, still delivers the text."""
    only_done = [e for e in HELLO.events if e["type"] != "response.output_text.delta"]
    assert ctx_of(sse(start(), EMPTY_REASONING, only_done, completed(EMPTY_REASONING, HELLO))).message.text == "Hello!"
    only_item = [HELLO.events[0], HELLO.events[-1]]
    assert ctx_of(sse(start(), EMPTY_REASONING, only_item, completed(EMPTY_REASONING, HELLO))).message.text == "Hello!"


def test_usage_counts_cached_and_written_input() -> None:
    report = {**usage(2006, 300, cached=1920, reasoning=64)}
    report["input_tokens_details"]["cache_write_tokens"] = 80
    assert responses.responses_usage(report) == {
        "input_tokens": 2006,
        "output_tokens": 300,
        "cached_input_tokens": 1920,
        "cache_creation_input_tokens": 80,
        "reasoning_tokens": 64,
    }


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_streams_have_no_failing_verdict(name: str) -> None:
    """Each correct stream meets every invariant, the semantic ones against what it assembles to."""
    raw = CORRECT[name]
    negative = NEG_ERROR if "error" in name else None
    expect = ctx_of(raw).message.expect(broken=negative is not None)
    ctx = ctx_of(raw, expect=expect, negative=negative)
    assert [(v.invariant, v.reason) for v in check(ctx) if v.failing] == []


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_verdicts_do_not_depend_on_chunking(name: str) -> None:
    raw = CORRECT[name]
    whole = [(v.invariant, v.outcome) for v in check(ctx_of(raw))]
    split = [
        (v.invariant, v.outcome)
        for v in check(build_context(raw, RS, chunks=[raw[i : i + 7] for i in range(0, len(raw), 7)]))
    ]
    assert whole == split


# =========================================================================================
# The invariants: one stream that passes each, and one that fails it
# =========================================================================================

Should = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class Case:
    invariant: str
    name: str
    stream: bytes
    should: Should = "pass"
    message: str = ""
    """For a failing case: a substring of the first violation's message."""
    event: int | None = None
    """For a failing case: the first violation's event index."""
    profile: str = OPENAI_PROFILE
    ending: str = "complete"
    expect: dict[str, Any] | None = None
    negative: dict[str, Any] | None = None
    expect_protocol: str | None = None
    marks: tuple[Any, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.invariant}-{self.name}"


def P(invariant: str, name: str, stream: bytes, **kw: Any) -> Case:
    return Case(invariant, name, stream, "pass", **kw)


def F(invariant: str, name: str, stream: bytes, *, message: str, event: int | None, **kw: Any) -> Case:
    return Case(invariant, name, stream, "fail", message=message, event=event, **kw)


def S(invariant: str, name: str, stream: bytes, **kw: Any) -> Case:
    return Case(invariant, name, stream, "skipped", **kw)


# The event index of each part of TEXT: e0 created, e1 in_progress, e2-e3 reasoning, e4 message
# added, e5 part added, e6-e7 deltas, e8 text done, e9 part done, e10 item done, e11 completed.
TEXT_EVENTS = events_of(start(), EMPTY_REASONING, HELLO, completed(EMPTY_REASONING, HELLO, usage=usage()))


def text_with(position: int, **changes: Any) -> bytes:
    events = [dict(e) for e in TEXT_EVENTS]
    events[position].update(changes)
    return sse(events)


def text_without(position: int) -> bytes:
    return sse([e for n, e in enumerate(TEXT_EVENTS) if n != position])


FRAMING_CASES = [
    P("openai-responses.data.json", "recorded-shape", TEXT),
    P("openai-responses.data.json", "open-responses-done", sse(TEXT_EVENTS, done=True), profile=OPEN_RESPONSES_PROFILE),
    F(
        "openai-responses.data.json",
        "non-json-event",
        sse(
            TEXT_EVENTS[:6],
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",\n\n',
            TEXT_EVENTS[6:],
            first=0,
        ),
        message="data is not a JSON object with a type",
        event=6,
    ),
    F(
        "openai-responses.data.json",
        "no-type",
        sse(TEXT_EVENTS[:2], 'event: keepalive\ndata: {"status":"alive"}\n\n', TEXT_EVENTS[2:]),
        message="data is not a JSON object with a type",
        event=2,
    ),
    P("openai-responses.sse.event-matches-type", "named", TEXT),
    F(
        "openai-responses.sse.event-matches-type",
        "data-only",
        text_with(6, _event=NO_NAME),
        message="event has no event: name",
        event=6,
    ),
    F(
        "openai-responses.sse.event-matches-type",
        "renamed",
        text_with(11, _event="response.done"),
        message="event name differs from the JSON type",
        event=11,
    ),
    *(P("openai-responses.event.schema", name, raw) for name, raw in sorted(CORRECT.items())),
    F(
        "openai-responses.event.schema",
        "delta-without-logprobs",
        sse(
            [
                {k: v for k, v in e.items() if k != "logprobs" or e["type"] != "response.output_text.delta"}
                for e in TEXT_EVENTS
            ]
        ),
        message="response.output_text.delta breaks its schema: 'logprobs' is a required property",
        event=6,
    ),
    F(
        "openai-responses.event.schema",
        "output-index-as-string",
        text_with(6, output_index="1"),
        message="response.output_text.delta breaks its schema",
        event=6,
    ),
    P("openai-responses.sequence.numbered", "from-zero", TEXT),
    P(
        "openai-responses.sequence.numbered",
        "done-not-numbered",
        sse(TEXT_EVENTS, done=True),
        profile=OPEN_RESPONSES_PROFILE,
    ),
    F(
        "openai-responses.sequence.numbered",
        "from-one",
        sse(TEXT_EVENTS, first=1),
        message="sequence_number is not the next one",
        event=0,
    ),
    F(
        "openai-responses.sequence.numbered",
        "missing",
        text_with(6, sequence_number=UNNUMBERED),
        message="sequence_number is missing",
        event=6,
    ),
    F(
        "openai-responses.sequence.numbered",
        "gap-after-a-dropped-event",
        sse(TEXT_EVENTS[:6], [{**e, "sequence_number": n + 7} for n, e in enumerate(TEXT_EVENTS[7:])]),
        message="sequence_number is not the next one",
        event=6,
    ),
]

LIFECYCLE_CASES = [
    P("openai-responses.response.created-first", "created-first", TEXT),
    P("openai-responses.response.created-first", "failing-at-once", NESTED_ERROR),
    F(
        "openai-responses.response.created-first",
        "in-progress-first",
        text_without(0),
        message="stream does not open with response.created",
        event=0,
    ),
    F(
        "openai-responses.response.created-first",
        "created-twice",
        sse(TEXT_EVENTS[:2], TEXT_EVENTS[0], TEXT_EVENTS[2:]),
        message="response.created sent more than once",
        event=2,
    ),
    *(
        P("openai-responses.response.terminal-last", name, CORRECT[name])
        for name in ("text", "incomplete", "nested-error")
    ),
    P(
        "openai-responses.response.terminal-last",
        "then-done",
        sse(TEXT_EVENTS, done=True),
        profile=OPEN_RESPONSES_PROFILE,
    ),
    F(
        "openai-responses.response.terminal-last",
        "cut-off",
        CUT_OFF,
        message="the stream ends without a terminal event",
        event=5,
    ),
    S("openai-responses.response.terminal-last", "cut-off-aborted", CUT_OFF, ending="aborted"),
    F(
        "openai-responses.response.terminal-last",
        "error-without-failed",
        sse(start(), nested_error()),
        message="the stream ends without a terminal event",
        event=2,
    ),
    F(
        "openai-responses.response.terminal-last",
        "completed-twice",
        sse(TEXT_EVENTS, TEXT_EVENTS[-1]),
        message="more than one terminal event",
        event=12,
    ),
    F(
        "openai-responses.response.terminal-last",
        "output-after-completed",
        sse(TEXT_EVENTS, HELLO.events[2]),
        message="events follow the terminal event",
        event=12,
    ),
    F(
        "openai-responses.response.terminal-last",
        "done-before-completed",
        sse(TEXT_EVENTS[:-1], "data: [DONE]\n\n", TEXT_EVENTS[-1]),
        message="[DONE] before the end of the stream",
        event=11,
        profile=OPEN_RESPONSES_PROFILE,
    ),
    P("openai-responses.error.before-failed", "nested", NESTED_ERROR),
    P("openai-responses.error.before-failed", "flat-after-text", FLAT_ERROR),
    F(
        "openai-responses.error.before-failed",
        "completed-after-error",
        sse(start(), PARTIAL.events[:4], flat_error(), PARTIAL.events[4:], completed(PARTIAL)),
        message="an event other than response.failed follows the error",
        event=7,
    ),
    P("openai-responses.error.message", "nested", NESTED_ERROR),
    P("openai-responses.error.message", "flat", FLAT_ERROR),
    F(
        "openai-responses.error.message",
        "nested-without-message",
        sse(start(), {"type": "error", "error": {"type": "server_error", "code": None, "param": None}}, failed()),
        message="error event without a message",
        event=2,
    ),
    P("openai-responses.stream.no-done", "openai", TEXT),
    F(
        "openai-responses.stream.no-done",
        "done-appended",
        sse(TEXT_EVENTS, done=True),
        message="[DONE] written into an OpenAI Responses stream",
        event=12,
    ),
    S(
        "openai-responses.stream.no-done",
        "open-responses-profile",
        sse(TEXT_EVENTS, done=True),
        profile=OPEN_RESPONSES_PROFILE,
    ),
    P(
        "openai-responses.stream.done-terminates",
        "done-last",
        sse(TEXT_EVENTS, done=True),
        profile=OPEN_RESPONSES_PROFILE,
    ),
    P(
        "openai-responses.stream.done-terminates",
        "failed-then-done",
        sse(start(), nested_error(), failed(), done=True),
        profile=OPEN_RESPONSES_PROFILE,
    ),
    F(
        "openai-responses.stream.done-terminates",
        "no-done",
        TEXT,
        message="the stream does not end with [DONE]",
        event=11,
        profile=OPEN_RESPONSES_PROFILE,
    ),
    S("openai-responses.stream.done-terminates", "openai-profile", TEXT),
    S(
        "openai-responses.stream.done-terminates",
        "aborted",
        CUT_OFF,
        profile=OPEN_RESPONSES_PROFILE,
        ending="aborted",
    ),
]

# PARALLEL: e0-e1 start, e2 first call added, e3-e5 deltas, e6 .done, e7 done, e8 second call added,
# e9-e10 deltas, e11 .done, e12 done, e13 completed.
PARALLEL_EVENTS = events_of(start(), WEATHER, WEATHER_B, completed(WEATHER, WEATHER_B))


def parallel_with(position: int, **changes: Any) -> bytes:
    events = [dict(e) for e in PARALLEL_EVENTS]
    events[position].update(changes)
    return sse(events)


ITEM_CASES = [
    *(P("openai-responses.item.sequence", name, CORRECT[name]) for name in ("parallel", "web-search", "custom-tool")),
    F(
        "openai-responses.item.sequence",
        "second-item-skips-an-index",
        sse([{**e, "output_index": 2} if e.get("output_index") == 1 else e for e in PARALLEL_EVENTS]),
        message="output item added at an output_index that is not its position",
        event=8,
    ),
    F(
        "openai-responses.item.sequence",
        "delta-for-an-item-never-added",
        parallel_with(10, output_index=3),
        message="names output item 3, which was never added",
        event=10,
    ),
    F(
        "openai-responses.item.sequence",
        "delta-with-another-item-id",
        parallel_with(10, item_id=FC_A),
        message="names another item_id",
        event=10,
    ),
    F(
        "openai-responses.item.sequence",
        "arguments-for-a-message",
        sse(
            TEXT_EVENTS[:6],
            {"type": "response.function_call_arguments.delta", "item_id": MSG_ID, "output_index": 1, "delta": "{}"},
            TEXT_EVENTS[6:],
        ),
        message="response.function_call_arguments.delta for a message item",
        event=6,
    ),
    F(
        "openai-responses.item.sequence",
        "delta-after-the-item-is-done",
        sse(PARALLEL_EVENTS[:8], PARALLEL_EVENTS[5], PARALLEL_EVENTS[8:]),
        message="after its output_item.done",
        event=8,
    ),
    F(
        "openai-responses.item.sequence",
        "item-never-done",
        sse([e for n, e in enumerate(PARALLEL_EVENTS) if n != 12]),
        message="output item 1 is never done",
        event=8,
    ),
    F(
        "openai-responses.item.sequence",
        "item-done-twice",
        sse(PARALLEL_EVENTS[:8], PARALLEL_EVENTS[7], PARALLEL_EVENTS[8:]),
        message="output item 0 is done twice",
        event=8,
    ),
    P("openai-responses.part.sequence", "text", TEXT),
    P("openai-responses.part.sequence", "summary-parts", REASONING),
    P("openai-responses.part.sequence", "refusal", REFUSAL),
    F(
        "openai-responses.part.sequence",
        "delta-without-part-added",
        text_without(5),
        message="names content_index 0 of output item 1, which was never added",
        event=5,
    ),
    F(
        "openai-responses.part.sequence",
        "first-part-at-index-1",
        sse([{**e, "content_index": 1} if "content_index" in e else e for e in TEXT_EVENTS]),
        message="at a content_index that is not the part's position",
        event=5,
    ),
    F(
        "openai-responses.part.sequence",
        "part-never-done",
        text_without(9),
        message="content part 0 of output item 1 is never done",
        event=5,
    ),
    F(
        "openai-responses.part.sequence",
        "text-into-a-refusal-part",
        sse(
            [
                {**e, "type": "response.output_text.delta", "logprobs": []}
                if e["type"] == "response.refusal.delta"
                else e
                for e in events_of(start(), NO)
            ]
        ),
        message="response.output_text.delta for a refusal part",
        event=4,
    ),
    F(
        "openai-responses.part.sequence",
        "summary-delta-without-part",
        sse(
            [
                e
                for e in events_of(start(), SUMMARY, PARIS, completed(SUMMARY, PARIS))
                if e["type"] != "response.reasoning_summary_part.added"
            ]
        ),
        message="names summary_index 0 of output item 0, which was never added",
        event=3,
    ),
    *(
        P("openai-responses.delta.matches-done", name, CORRECT[name])
        for name in ("text", "parallel", "custom-tool", "args-only-in-done", "reasoning-summary")
    ),
    F(
        "openai-responses.delta.matches-done",
        "empty-text-done",
        text_with(8, text=""),
        message="content part 0 of output item 1: the .done event differs from the concatenated deltas",
        event=8,
    ),
    F(
        "openai-responses.delta.matches-done",
        "arguments-done-differ",
        parallel_with(6, arguments='{"city":"Paris, TX"}'),
        message="the arguments of output item 0: the .done event differs from the concatenated deltas",
        event=6,
    ),
    F(
        "openai-responses.delta.matches-done",
        "item-done-has-other-text",
        text_with(
            10,
            item={
                **HELLO.item,
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello"}],
            },
        ),
        message="response.output_item.done differs from the concatenated deltas",
        event=10,
    ),
]


# ----------------------------------------------------------------------- semantic.* as Responses

SEMANTIC_CASES = [
    P("semantic.text", "responses", TEXT, expect=TEXT_EXPECT),
    F("semantic.text", "text-lost", REFUSAL, expect=TEXT_EXPECT, message="text differs", event=None),
    P("semantic.refusal", "kept-apart", REFUSAL, expect=REFUSAL_EXPECT),
    F(
        "semantic.refusal",
        "moved-into-text",
        sse(start(), message(0, "I'm sorry, ", "I can't help with that."), completed()),
        expect=REFUSAL_EXPECT,
        message="refusal differs",
        event=None,
    ),
    P(
        "semantic.reasoning",
        "summary",
        REASONING,
        expect={**TEXT_EXPECT, "reasoning": ctx_of(REASONING).message.reasoning},
    ),
    F(
        "semantic.reasoning",
        "summary-dropped",
        sse(start(), EMPTY_REASONING, PARIS, completed(EMPTY_REASONING, PARIS)),
        expect={**TEXT_EXPECT, "reasoning": "**Checking the weather**"},
        message="reasoning differs",
        event=None,
    ),
    P("semantic.tool-calls", "parallel", PARALLEL, expect=ctx_of(PARALLEL).message.expect()),
    F(
        "semantic.tool-calls",
        "second-call-lost",
        TOOL,
        expect=ctx_of(PARALLEL).message.expect(),
        message="tool calls differ",
        event=None,
    ),
    P("semantic.tool-call-ids", "kept", TOOL, expect=TOOL_EXPECT),
    F(
        "semantic.tool-call-ids",
        "rewritten",
        sse(start(), function_call(0, "get_weather", '{"city":"Paris"}', call_id="call_proxy_0001"), completed()),
        expect=TOOL_EXPECT,
        message="tool call ids were rewritten",
        event=None,
    ),
    P("semantic.finish", "tool-calls", TOOL, expect=TOOL_EXPECT),
    P("semantic.finish", "length", INCOMPLETE, expect={**CUT_EXPECT, "finish": "length"}),
    F(
        "semantic.finish",
        "incomplete-reported-as-completed",
        sse(start(), CUT_SHORT, completed(CUT_SHORT)),
        expect={**CUT_EXPECT, "finish": "length"},
        message="finish reason differs",
        event=None,
    ),
    P("semantic.usage", "reasoning-tokens", TEXT, expect=TEXT_EXPECT),
    F(
        "semantic.usage",
        "reasoning-tokens-lost",
        sse(
            start(),
            EMPTY_REASONING,
            HELLO,
            completed(EMPTY_REASONING, HELLO, usage={**usage(), "output_tokens_details": {}}),
        ),
        expect=TEXT_EXPECT,
        message="usage reasoning_tokens differs",
        event=None,
    ),
    P("semantic.clean-finish", "completed", TEXT, expect=TEXT_EXPECT),
    P(
        "semantic.clean-finish",
        "aborted-after-done",
        sse(TEXT_EVENTS, done=True),
        expect=TEXT_EXPECT,
        ending="aborted",
        profile=OPEN_RESPONSES_PROFILE,
    ),
    F("semantic.clean-finish", "cut-off", CUT_OFF, expect=TEXT_EXPECT, message="never terminates cleanly", event=None),
    F(
        "semantic.clean-finish",
        "aborted-after-completed",
        TEXT,
        expect=TEXT_EXPECT,
        ending="aborted",
        message="cut off after its terminal event",
        event=None,
    ),
    F(
        "semantic.clean-finish",
        "failed",
        NESTED_ERROR,
        expect=TEXT_EXPECT,
        message="reports an error for a stream that completed upstream",
        event=None,
    ),
    P("semantic.error-surfaced", "failed", NESTED_ERROR, expect=ERROR_EXPECT, negative=NEG_ERROR),
    P("semantic.error-surfaced", "cut-off-aborted", CUT_OFF, expect=CUT_EXPECT, negative=NEG_CUT, ending="aborted"),
    F(
        "semantic.error-surfaced",
        "cut-off-completed",
        sse(start(), PARTIAL, completed(PARTIAL)),
        expect=CUT_EXPECT,
        negative=NEG_CUT,
        message="did not reach the client as an error",
        event=None,
    ),
    P("semantic.error", "nested-kept", NESTED_ERROR, expect=ERROR_EXPECT, negative=NEG_ERROR),
    F(
        "semantic.error",
        "flattened-type-lost",
        sse(start(), flat_error("insufficient_quota", "You exceeded your current quota."), failed()),
        expect=ERROR_EXPECT,
        negative=NEG_ERROR,
        message="the error's type differs",
        event=None,
    ),
    P("semantic.native-finish", "none", TEXT, expect=TEXT_EXPECT),
    P("semantic.server-tools", "web-search", WEB_SEARCH, expect=ctx_of(WEB_SEARCH).message.expect()),
    F(
        "semantic.server-tools",
        "search-dropped",
        sse(start(), EMPTY_REASONING, ANSWER, completed(EMPTY_REASONING, ANSWER)),
        expect=ctx_of(WEB_SEARCH).message.expect(),
        message="server-tool blocks differ",
        event=None,
    ),
    P("semantic.citations", "url-citations", WEB_SEARCH, expect=ctx_of(WEB_SEARCH).message.expect()),
    F(
        "semantic.citations",
        "annotations-dropped",
        sse(start(), EMPTY_REASONING, SEARCH, message(2, *ANSWER_PIECES), completed()),
        expect=ctx_of(WEB_SEARCH).message.expect(),
        message="citations differ",
        event=None,
    ),
    S(
        "semantic.citations",
        "anthropic-capture",
        WEB_SEARCH,
        expect={**TEXT_EXPECT, "citations": [{"type": "web_search_result_location"}]},
        expect_protocol="anthropic-messages",
    ),
    P("semantic.encrypted-reasoning", "kept", ENCRYPTED_ONLY, expect=ENCRYPTED_EXPECT),
    P("semantic.encrypted-reasoning", "none-upstream", TEXT, expect=TEXT_EXPECT),
    F(
        "semantic.encrypted-reasoning",
        "dropped",
        encrypted_only(None),
        expect=ENCRYPTED_EXPECT,
        message="encrypted reasoning differs",
        event=None,
    ),
    F(
        "semantic.encrypted-reasoning",
        "altered",
        encrypted_only(ENCRYPTED[:-2] + "AA"),
        expect=ENCRYPTED_EXPECT,
        message="encrypted reasoning differs",
        event=None,
    ),
    F(
        "semantic.encrypted-reasoning",
        "invented",
        ENCRYPTED_ONLY,
        expect={**ENCRYPTED_EXPECT, "signatures": []},
        message="encrypted reasoning differs",
        event=None,
    ),
    F(
        "semantic.encrypted-reasoning",
        "error-only",
        NESTED_ERROR,
        expect=ENCRYPTED_EXPECT,
        message="encrypted reasoning differs",
        event=None,
    ),
    P("semantic.encrypted-reasoning", "chat-upstream", TEXT, expect=TEXT_EXPECT, expect_protocol=OPENAI_CHAT),
    F(
        "semantic.encrypted-reasoning",
        "invented-over-chat",
        ENCRYPTED_ONLY,
        expect={**ENCRYPTED_EXPECT, "signatures": []},
        expect_protocol=OPENAI_CHAT,
        message="encrypted reasoning the upstream never sent",
        event=None,
    ),
    P(
        "semantic.encrypted-reasoning",
        "anthropic-signature-left-out",
        encrypted_only(None),
        expect={**ENCRYPTED_EXPECT, "signatures": [THINKING_SIGNATURE]},
        expect_protocol=ANTHROPIC_MESSAGES,
    ),
    P(
        "semantic.encrypted-reasoning",
        "anthropic-signature-carried",
        encrypted_only(THINKING_SIGNATURE),
        expect={**ENCRYPTED_EXPECT, "signatures": [THINKING_SIGNATURE]},
        expect_protocol=ANTHROPIC_MESSAGES,
    ),
    P(
        "semantic.encrypted-reasoning",
        "anthropic-signature-wrapped-whole",
        encrypted_only("gateway:" + THINKING_SIGNATURE),
        expect={**ENCRYPTED_EXPECT, "signatures": [THINKING_SIGNATURE]},
        expect_protocol=ANTHROPIC_MESSAGES,
    ),
    F(
        "semantic.encrypted-reasoning",
        "anthropic-signature-altered",
        encrypted_only(THINKING_SIGNATURE[:-3] + "A=="),
        expect={**ENCRYPTED_EXPECT, "signatures": [THINKING_SIGNATURE]},
        expect_protocol=ANTHROPIC_MESSAGES,
        message="encrypted reasoning the upstream never sent",
        event=None,
    ),
]

CASES: list[Case] = [*FRAMING_CASES, *LIFECYCLE_CASES, *ITEM_CASES, *SEMANTIC_CASES]


def _context(case: Case) -> Context:
    return build_context(
        case.stream,
        RS,
        expect=case.expect,
        negative=case.negative,
        ending=case.ending,
        expect_protocol=case.expect_protocol,
        responses_profile=case.profile,
    )


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id, marks=list(case.marks)) for case in CASES])
def test_invariant(case: Case) -> None:
    inv = registry()[case.invariant]
    assert inv.protocol in (None, RS)
    verdict = evaluate(inv, _context(case))
    if case.should != "fail":
        details = [v.to_json() for v in verdict.violations]
        assert verdict.outcome == case.should, f"{case.id}: expected {case.should}, got {verdict.outcome}: {details}"
        return
    assert verdict.outcome == "fail", f"{case.id}: expected fail, got {verdict.outcome} ({verdict.reason})"
    first = verdict.violations[0]
    assert case.message in first.message, f"message {first.message!r} lacks {case.message!r}"
    assert first.expected is not None or first.actual is not None
    assert first.event == case.event, f"first violation points at event {first.event}, expected {case.event}"


def test_every_responses_invariant_has_a_passing_and_a_failing_case() -> None:
    # The Responses oracle has tests of its own, below.
    ids = {name for name, inv in registry().items() if inv.protocol == RS and not name.startswith("oracle.")}
    assert {case.invariant for case in CASES if registry()[case.invariant].protocol == RS} == ids
    assert ids - {case.invariant for case in CASES if case.should == "pass"} == set()
    assert ids - {case.invariant for case in CASES if case.should == "fail"} == set()


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert sorted(i for i in ids if ids.count(i) > 1) == []


def test_the_invariants_are_what_the_protocol_documents() -> None:
    """Each has the level the corpus can hold it to: OpenAI's streams meet every one but the two
    that depend on the profile, which providers of the other profile break."""
    mine = {name: inv for name, inv in registry().items() if name.startswith("openai-responses.")}
    assert {name for name, inv in mine.items() if inv.level == "proxy"} == {
        "openai-responses.stream.no-done",
        "openai-responses.stream.done-terminates",
    }
    assert {name for name, inv in mine.items() if inv.impact == "strict"} == {
        "openai-responses.event.schema",
        "openai-responses.stream.done-terminates",
    }
    assert all(inv.protocol == RS and not inv.judges_silence for inv in mine.values())


# =========================================================================================
# Nothing works: no invariant passes vacuously
# =========================================================================================

NOTHING = [
    pytest.param(b"", id="empty-body"),
    pytest.param(b"<html><body>502 Bad Gateway</body></html>", id="html-page"),
    pytest.param(b'data: {"type":"response.created"', id="unterminated-event"),
]


@pytest.mark.parametrize("profile", [OPENAI_PROFILE, OPEN_RESPONSES_PROFILE])
@pytest.mark.parametrize("negative", [None, NEG_CUT], ids=["capture-complete", "upstream-broke"])
@pytest.mark.parametrize("body", NOTHING)
def test_nothing_passes_an_output_with_nothing_in_it(body: bytes, negative: Any, profile: str) -> None:
    expect = CUT_EXPECT if negative else TEXT_EXPECT
    ctx = build_context(body, RS, expect=expect, negative=negative, responses_profile=profile)
    passed = [v.invariant for v in check(ctx) if v.outcome == "pass"]
    assert passed == []
    assert any(v.outcome == "fail" for v in check(ctx))


GARBAGE = [
    pytest.param(b"event: response.created\ndata: not json\n\n", id="not-json"),
    pytest.param(b"data: [1, 2, 3]\n\ndata: null\n\n", id="json-not-objects"),
    pytest.param(
        sse(
            start(),
            {"type": "response.output_item.added", "output_index": [0], "item": "message"},
            {"type": "response.content_part.added", "output_index": {"a": 1}, "content_index": None, "part": 7},
            {"type": "response.output_text.delta", "output_index": [0], "content_index": [0], "delta": 3},
            {"type": "response.function_call_arguments.done", "output_index": 0, "arguments": None},
            {"type": "response.output_item.done", "output_index": [0], "item": None},
            {"type": "error", "error": "boom"},
            {"type": "response.completed", "response": "done"},
            {"type": "response.incomplete", "response": {"incomplete_details": {"reason": ["x"]}, "usage": "many"}},
        ),
        id="type-confused-fields",
    ),
]


@pytest.mark.parametrize("body", [b"", NESTED_ERROR], ids=["empty-body", "error-only"])
def test_encrypted_reasoning_does_not_pass_an_output_where_nothing_works(body: bytes) -> None:
    (verdict,) = check(ctx_of(body, expect=ENCRYPTED_EXPECT), [registry()["semantic.encrypted-reasoning"]])
    assert verdict.outcome in ("skipped", "fail")


@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_gives_verdicts_not_exceptions(body: bytes) -> None:
    ctx = build_context(body, RS, expect=TEXT_EXPECT)
    verdicts = check(ctx)
    failing = {v.invariant for v in verdicts if v.failing}
    assert failing & {
        "openai-responses.data.json",
        "openai-responses.response.created-first",
        "openai-responses.event.schema",
    }
    json.dumps(ctx.message.to_json())  # the message stays JSON


def _events(raw: bytes) -> list[Event]:
    """The JSON events of one of the streams above, to mutate."""
    lines = raw.decode("utf-8").split("\n")
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_FIELDS = (
    "type",
    "output_index",
    "content_index",
    "summary_index",
    "item_id",
    "item",
    "part",
    "delta",
    "text",
    "arguments",
    "input",
    "response",
    "error",
    "annotation",
    "sequence_number",
    "refusal",
    "message",
)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(CORRECT)),
    st.lists(st.tuples(st.integers(0, 80), st.sampled_from(_FIELDS), _JSON), max_size=3),
    st.lists(st.tuples(st.sampled_from(("drop", "repeat", "swap")), st.integers(0, 80)), max_size=2),
    st.sampled_from([OPENAI_PROFILE, OPEN_RESPONSES_PROFILE]),
    st.booleans(),
)
def test_wrong_events_give_verdicts_not_exceptions(
    name: str, changes: list[tuple[int, str, Any]], moves: list[tuple[str, int]], profile: str, aborted: bool
) -> None:
    """Any field of any event set to any JSON value, events dropped, repeated or swapped: verdicts."""
    events = _events(CORRECT[name])
    for position, key, value in changes:
        events[position % len(events)][key] = value
    for move, position in moves:
        at = position % len(events)
        if move == "drop" and len(events) > 1:
            del events[at]
        elif move == "repeat":
            events.insert(at, dict(events[at]))
        elif move == "swap" and at + 1 < len(events):
            events[at], events[at + 1] = events[at + 1], events[at]
    raw = "".join(f"data: {compact(event)}\n\n" for event in events).encode("utf-8", "surrogatepass")
    negative = NEG_CUT if aborted else None
    ctx = build_context(
        raw,
        RS,
        expect=CUT_EXPECT if aborted else TEXT_EXPECT,
        negative=negative,
        ending="aborted" if aborted else "complete",
        responses_profile=profile,
    )
    assert {v.outcome for v in check(ctx)} <= {"pass", "fail", "skipped"}
    json.dumps([v.to_json() for v in check(ctx)])
    json.dumps(ctx.message.to_json())


# =========================================================================================
# The profile
# =========================================================================================


def test_the_profile_defaults_to_openai() -> None:
    assert ctx_of(TEXT).responses_profile == OPENAI_PROFILE
    assert build_context(TEXT, RS, responses_profile=OPEN_RESPONSES_PROFILE).responses_profile == OPEN_RESPONSES_PROFILE


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Responses profile 'openresponses'"):
        build_context(TEXT, RS, responses_profile="openresponses")


@pytest.mark.parametrize(
    ("profile", "done", "failing"),
    [
        (OPENAI_PROFILE, False, []),
        (OPENAI_PROFILE, True, ["openai-responses.stream.no-done"]),
        (OPEN_RESPONSES_PROFILE, True, []),
        (OPEN_RESPONSES_PROFILE, False, ["openai-responses.stream.done-terminates"]),
    ],
)
def test_done_is_judged_by_the_profile(profile: str, done: bool, failing: list[str]) -> None:
    ctx = build_context(sse(TEXT_EVENTS, done=done), RS, expect=TEXT_EXPECT, responses_profile=profile)
    assert [v.invariant for v in check(ctx) if v.failing] == failing
    assert ctx.message.done and ctx.message.text == "Hello!"


def test_the_other_protocols_ignore_the_profile() -> None:
    raw = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}\n\ndata: [DONE]\n\n'
    for profile in (OPENAI_PROFILE, OPEN_RESPONSES_PROFILE):
        verdicts = check(build_context(raw, "openai-chat", responses_profile=profile))
        assert {v.invariant for v in verdicts} == {v.invariant for v in check(build_context(raw, "openai-chat"))}


# =========================================================================================
# The strict invariants are tolerated: openai-python reads the deviation as the conforming stream
# =========================================================================================


def _read(raw: bytes) -> tuple[Any, list[str]]:
    """openai-python's `client.responses.stream()` over loopback HTTP: the final response's dump and
    the text of its text events."""
    openai = pytest.importorskip("openai")
    from conformance.oracles._common import http_client
    from conformance.oracles._server import serving

    with serving(raw) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, http_client=http_client(openai))
        with client.responses.stream(model=MODEL, input="Say hello.") as stream:
            texts = [getattr(event, "delta", "") for event in stream if event.type == "response.output_text.delta"]
            final = stream.get_final_response()
    return final.model_dump(mode="json"), texts


@pytest.mark.parametrize(
    ("invariant", "conforming", "deviating", "profile"),
    [
        pytest.param(
            "openai-responses.event.schema",
            TEXT,
            sse([{**e, "logprobs": None} if e["type"] == "response.output_text.delta" else e for e in TEXT_EVENTS]),
            OPENAI_PROFILE,
            id="delta-logprobs-null",
        ),
        pytest.param(
            "openai-responses.stream.done-terminates",
            sse(TEXT_EVENTS, done=True),
            TEXT,
            OPEN_RESPONSES_PROFILE,
            id="no-done",
        ),
    ],
)
def test_strict_deviations_read_alike(invariant: str, conforming: bytes, deviating: bytes, profile: str) -> None:
    inv = registry()[invariant]
    assert inv.impact == "strict"
    assert evaluate(inv, build_context(conforming, RS, responses_profile=profile)).outcome == "pass"
    assert evaluate(inv, build_context(deviating, RS, responses_profile=profile)).outcome == "fail"
    assert _read(conforming) == _read(deviating)


# =========================================================================================
# oracle.openai-python-responses: what client.responses.stream() assembles
# =========================================================================================

ORACLE = "oracle.openai-python-responses"


def _oracle(
    raw: bytes, expect: dict[str, Any], negative: dict[str, Any] | None = None, expect_protocol: str | None = None
) -> Any:
    pytest.importorskip("openai")
    ctx = build_context(
        raw,
        RS,
        expect=expect,
        negative=negative,
        request={"model": MODEL, "input": "Say hello."},
        expect_protocol=expect_protocol,
    )
    return evaluate(registry()[ORACLE], ctx)


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        pytest.param(TEXT, TEXT_EXPECT, id="text"),
        pytest.param(TOOL, TOOL_EXPECT, id="function-call"),
        pytest.param(REFUSAL, REFUSAL_EXPECT, id="refusal"),
    ],
)
def test_oracle_passes_what_the_client_assembles_as_expected(raw: bytes, expect: dict[str, Any]) -> None:
    assert _oracle(raw, expect).outcome == "pass"


def test_oracle_compares_the_encrypted_reasoning_of_the_final_response() -> None:
    """get_final_response() takes the items of response.completed: their encrypted_content is what a
    client of the SDK sends back, whatever the streamed items said."""
    assert _oracle(ENCRYPTED_ONLY, ENCRYPTED_EXPECT).outcome == "pass"
    bare = reasoning(0, encrypted=None)
    lost = sse(start(), SECRET, OK, completed(bare, OK, usage=usage(12, 30, reasoning=26)))
    verdict = _oracle(lost, ENCRYPTED_EXPECT)
    assert verdict.outcome == "fail" and "assembled encrypted reasoning []" in verdict.violations[0].message
    # Another protocol's reasoning signature may be left out: semantic.encrypted-reasoning judges what is carried.
    anthropic = {**ENCRYPTED_EXPECT, "signatures": [THINKING_SIGNATURE]}
    assert _oracle(encrypted_only(None), anthropic, expect_protocol=ANTHROPIC_MESSAGES).outcome == "pass"


def test_oracle_fails_a_stream_the_client_raises_on() -> None:
    # No response.created first: openai-python's accumulator raises.
    verdict = _oracle(sse(HELLO, completed(HELLO, usage=usage())), TEXT_EXPECT)
    assert verdict.outcome == "fail" and "raised" in verdict.violations[0].message


def test_oracle_fails_text_the_client_assembles_differently() -> None:
    verdict = _oracle(TEXT, {**TEXT_EXPECT, "text": "Goodbye!"})
    assert verdict.outcome == "fail" and "assembled text" in verdict.violations[0].message


def test_oracle_wants_the_client_to_raise_on_a_broken_upstream() -> None:
    # An error then response.failed: the client raises, as it must; a clean stream from a broken
    # upstream returns normally, which hides the failure.
    assert _oracle(NESTED_ERROR, ERROR_EXPECT, negative={"kind": "upstream-error"}).outcome == "pass"
    hidden = _oracle(TEXT, TEXT_EXPECT, negative={"kind": "cut-off"})
    assert hidden.outcome == "fail" and "must raise" in hidden.violations[0].message


def test_oracle_on_an_empty_body_does_not_pass() -> None:
    assert _oracle(b"", TEXT_EXPECT).outcome == "fail"


def test_summary_deltas_with_no_summary_index_are_one_part_read_once() -> None:
    """A bridge (LiteLLM's Chat → Responses) streams reasoning summary deltas with no summary_index
    and no part added, then a `.done` naming summary_index 0: one part, its reasoning read once, and
    the missing part reported."""
    turn = reasoning(0, ["We need ", "Ottawa."])
    events = [dict(event) for event in turn.events if event["type"] != "response.reasoning_summary_part.added"]
    for event in events:
        if event["type"] == "response.reasoning_summary_text.delta":
            del event["summary_index"]
    ctx = ctx_of(sse(start(), events, message(1, "Ottawa."), completed(turn, message(1, "Ottawa."))))
    assert ctx.message.reasoning == "We need Ottawa."
    part_sequence = evaluate(registry()["openai-responses.part.sequence"], ctx)
    assert part_sequence.outcome == "fail"
    assert "never added" in part_sequence.violations[0].message


def test_a_delta_with_no_index_in_an_open_part_is_reported_once() -> None:
    turn = reasoning(0, ["We need ", "to think ", "Ottawa."])
    events = [dict(event) for event in turn.events]
    for event in events:
        if event["type"] == "response.reasoning_summary_text.delta":
            del event["summary_index"]
    ctx = ctx_of(sse(start(), events, completed(turn)))
    assert ctx.message.reasoning == "We need to think Ottawa."
    violations = evaluate(registry()["openai-responses.part.sequence"], ctx).violations
    assert [v.message for v in violations] == [
        "response.reasoning_summary_text.delta names no summary_index in output item 0"
    ]
