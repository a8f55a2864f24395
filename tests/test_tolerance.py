"""Every `strict` invariant is proven tolerated: the official clients read its deviation as they read the conforming stream.

An invariant's impact is `strict` when breaking it deviates from the documented wire format but the
clients we know read the stream the same way (conformance/invariants.py). A proxy's `strict` failure
is graded `non-strict`, which the default gate lets through, so each such classification needs a
proof. This module is that proof:

- `CASES` pairs, for each strict invariant, a conforming stream with a deviating one that real
  proxies or providers produce. The conforming stream passes the invariant and the deviating one
  fails it (`test_case_exercises_its_invariant`), so each case really exercises the invariant.
- Both streams are served over loopback HTTP and read by the official client of their protocol
  (`conformance.oracles.openai_python.run`, `conformance.oracles.anthropic_python.run`), which must
  read them the same way (`test_client_reads_deviation_as_conforming`): the same `Assembled`
  reading, and the same full `model_dump()` of the final completion or message, minus the fields
  that the deviation is itself about, each named and explained at its case; when both streams end
  in an error, the same exception class, status and message; for an error response
  (`http.error-body`), the same exception class and status.
- An invariant that applies to every protocol (`protocol` None) is proven with both clients.
- `test_every_strict_invariant_is_proven`: each strict invariant has a case that the clients read
  alike, and no case names a `breaks` invariant. Adding a strict invariant without its proof fails.

A deviation of a strict invariant's format that a client does NOT read the same way must not be left
to that invariant alone. Such a case is kept, marked `misread`: the client's exact difference is
pinned, and a `breaks` invariant (`caught_by`) must fail it too
(`test_a_deviation_the_client_misreads_fails_a_breaks_invariant`), so the default gate fails a proxy
that introduces it. Each of these once showed a misclassification and led to that `breaks` check.

Stream builders come from tests/test_invariants.py; the cases were drawn from probes of what
openai-python 3.57 and anthropic-sdk-python 2.15 tolerate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from test_invariants import (
    ANTHROPIC_REQUEST,
    CALL_A,
    MESSAGE_STOP,
    OPENAI_ERROR_FRAME,
    PLAIN_REQUEST,
    TOOLU_A,
    USAGE_REQUEST,
    args,
    block_start,
    block_stop,
    choice,
    chunk,
    error_event,
    head,
    json_delta,
    message_delta,
    message_start,
    oa,
    oa_calls,
    oa_finish,
    oa_role,
    oa_text,
    oa_usage,
    text_delta,
    text_start,
    tool_start,
    usage_of,
)
from test_invariants import anthropic as anthropic_stream
from test_invariants import openai as openai_stream

from conformance.checks import build_context, check
from conformance.invariants import evaluate, registry
from conformance.oracles import anthropic_python, openai_python
from conformance.protocols import ANTHROPIC_MESSAGES as AN
from conformance.protocols import OPENAI_CHAT as OA

# =========================================================================================
# The cases
# =========================================================================================


@dataclass(frozen=True)
class Misread:
    """The client does not read the deviation as the conforming stream. Such a deviation must not be
    left to a strict invariant alone: a `breaks` invariant (`caught_by`) fails it too, so the default
    gate fails a proxy that introduces it."""

    reason: str
    """What the client does differently."""
    shows: tuple[str, ...]
    """Substrings that the listed differences must contain: the exact difference, pinned."""
    caught_by: str
    """The `breaks` invariant that fails the deviation."""


@dataclass(frozen=True)
class Tolerance:
    invariant: str
    name: str
    conforming: bytes
    deviating: bytes
    protocol: str
    request: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None
    status: int = 200
    ignore: tuple[str, ...] = ()
    """Paths in the final object's `model_dump()` left out of the comparison because the deviation
    itself is about them (`id`, `choices[0].message.tool_calls[0].id`); each must actually differ."""
    misread: Misread | None = None

    @property
    def id(self) -> str:
        return f"{self.invariant}-{self.protocol}-{self.name}"


def T(invariant: str, name: str, conforming: bytes, deviating: bytes, protocol: str, **kw: Any) -> Tolerance:
    return Tolerance(invariant, name, conforming, deviating, protocol, **kw)


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))


def _set(data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**_copy(data), **fields}


def _choices(data: dict[str, Any], *, drop: tuple[str, ...] = (), drop_null_finish: bool = False) -> dict[str, Any]:
    """The chunk with keys removed from each choice (`finish_reason` only where it is null, if asked)."""
    data = _copy(data)
    for entry in data["choices"]:
        for key in drop:
            entry.pop(key, None)
        if drop_null_finish and entry.get("finish_reason") is None:
            entry.pop("finish_reason", None)
    return data


def _events(raw: bytes) -> list[bytes]:
    return [event for event in raw.split(b"\n\n") if event]


# ---------------------------------------------------------------------------- OpenAI streams

OA_HELLO = (oa_role(), oa_text("Hello"), oa_text(" there!"), oa_finish("stop"))
# Conforming, no include_usage: role, two text chunks, finish, [DONE].
OA_CONFORMING = openai_stream(*OA_HELLO)
# Conforming with include_usage: the trailing `choices: []` usage chunk after the finish chunk.
OA_CONFORMING_USAGE = openai_stream(*OA_HELLO, oa_usage(19, 3))
# A tool call split as OpenAI splits it.
OA_TOOL_CONFORMING = openai_stream(
    oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
    oa_calls(args(0, '{"city":')),
    oa_calls(args(0, ' "Paris"}')),
    oa_finish("tool_calls"),
)
# The mid-stream error as OpenAI sends it: the error frame, then EOF, no [DONE].
OA_ERROR_CONFORMING = openai_stream(oa_role(), oa_text("Hello"), OPENAI_ERROR_FRAME, done=False)
OA_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


def _pydantic_delta(delta: dict[str, Any]) -> dict[str, Any]:
    """A delta as a proxy serialising its delta model with every field writes it: unset fields as null."""
    return {"role": None, "content": None, "tool_calls": None, "function_call": None, "refusal": None, **delta}


def _null_header(arguments: str) -> dict[str, Any]:
    """A later tool-call delta from a model serialised with every field: id, type and name null."""
    return {"index": 0, "id": None, "type": None, "function": {"name": None, "arguments": arguments}}


def _each_event_named(raw: bytes) -> bytes:
    """`event: chat.completion.chunk` before every chunk and `event: done` before [DONE]."""
    return b"".join(
        (b"event: done\n" if event == b"data: [DONE]" else b"event: chat.completion.chunk\n") + event + b"\n\n"
        for event in _events(raw)
    )


def _each_event_numbered(raw: bytes, separator: bytes = b"\n\n") -> bytes:
    """An `id: N` line on every event, as SSE libraries that number their events write it."""
    return b"".join(b"id: %d\n" % n + event + separator for n, event in enumerate(_events(raw)))


OPENAI_CASES = [
    # --------------------------------------------------------------- openai.chunk.schema
    # xAI and GitHub Copilot leave the finish_reason key out until the finish chunk (the spec
    # requires it, null); the client fills it in from the finish chunk.
    T(
        "openai.chunk.schema",
        "no-null-finish-reason-key",
        OA_CONFORMING,
        openai_stream(*(_choices(data, drop_null_finish=True) for data in OA_HELLO)),
        OA,
    ),
    # An OpenRouter-style chunk: no finish_reason key until the end, no logprobs, service_tier
    # "standard" and system_fingerprint null. Only the missing finish_reason key fails the (lenient)
    # schema; see test_widened_fields_are_no_deviation for the other three alone.
    T(
        "openai.chunk.schema",
        "openrouter-shaped-chunks",
        OA_CONFORMING,
        openai_stream(
            *(
                _set(
                    _choices(data, drop=("logprobs",), drop_null_finish=True),
                    service_tier="standard",
                    system_fingerprint=None,
                )
                for data in OA_HELLO
            )
        ),
        OA,
        # The completion carries the first chunk's service_tier and the last chunk's
        # system_fingerprint: the very values this deviation changes.
        ignore=("service_tier", "system_fingerprint"),
    ),
    # A proxy serialising its delta model with every field: role, tool_calls and function_call null
    # in every later delta (function_call and role must be an object and a string when present).
    T(
        "openai.chunk.schema",
        "null-fields-in-deltas",
        OA_CONFORMING,
        openai_stream(
            oa_role(),
            oa(_pydantic_delta({"content": "Hello"})),
            oa(_pydantic_delta({"content": " there!"})),
            oa(_pydantic_delta({}), "stop"),
        ),
        OA,
    ),
    # The same serialisation in later tool-call deltas, `type` included: openai-python's
    # accumulate_delta copies `type` (it never concatenates it) so the call's type becomes None,
    # and the stream helper then asserts it is "function".
    T(
        "openai.chunk.schema",
        "null-type-in-later-tool-deltas",
        OA_TOOL_CONFORMING,
        openai_stream(
            oa_role(None, tool_calls=[head(0, CALL_A, "get_weather")]),
            oa_calls(_null_header('{"city":')),
            oa_calls(_null_header(' "Paris"}')),
            oa_finish("tool_calls"),
        ),
        OA,
        misread=Misread(
            'openai-python raises a bare AssertionError (lib/streaming/chat/_completions.py: assert new_tool.type == "function") '
            'when a later tool-call delta carries "type": null',
            ("deviating raised AssertionError",),
            caught_by="openai.chunk.client-fields",
        ),
    ),
    # --------------------------------------------------------------- openai.finish.last
    # LiteLLM puts the usage on a trailing chunk whose one choice has an empty delta and a null
    # finish_reason: the accumulator keeps the finish it had.
    T(
        "openai.finish.last",
        "empty-delta-after-the-finish-chunk",
        OA_CONFORMING_USAGE,
        openai_stream(*OA_HELLO, oa({}, None, usage=usage_of(19, 3))),
        OA,
        request=USAGE_REQUEST,
    ),
    # --------------------------------------------------------------- openai.usage.placement
    # DeepSeek puts the usage on its finish chunk, which has a choice, and sends no usage chunk.
    T(
        "openai.usage.placement",
        "usage-on-finish-chunk",
        OA_CONFORMING_USAGE,
        openai_stream(*OA_HELLO[:-1], oa_finish("stop", usage=usage_of(19, 3))),
        OA,
        request=USAGE_REQUEST,
    ),
    # OpenRouter repeats it: usage on the finish chunk and again in a trailing usage chunk.
    T(
        "openai.usage.placement",
        "usage-on-finish-chunk-and-usage-chunk",
        OA_CONFORMING_USAGE,
        openai_stream(*OA_HELLO[:-1], oa_finish("stop", usage=usage_of(19, 3)), oa_usage(19, 3)),
        OA,
        request=USAGE_REQUEST,
    ),
    # A translating proxy that writes the usage chunk as soon as it knows the usage (Anthropic's
    # message_delta brings usage and stop reason together), before the finish chunk.
    T(
        "openai.usage.placement",
        "usage-chunk-before-finish-chunk",
        OA_CONFORMING_USAGE,
        openai_stream(*OA_HELLO[:-1], oa_usage(19, 3), oa_finish("stop")),
        OA,
        request=USAGE_REQUEST,
        misread=Misread(
            "openai-python sets completion.usage from every chunk (usage = chunk.usage), so the finish chunk's usage null "
            "after the usage chunk erases it: get_final_completion().usage is None; the suite's own assembler keeps the "
            "last usage object, so semantic.usage does not notice, and only openai.usage.placement flags it",
            ("usage: {", "-> None"),
            caught_by="openai.usage.last",
        ),
    ),
    # --------------------------------------------------------------- openai.error.last
    # LiteLLM-style: the error frame, then data: [DONE].
    T(
        "openai.error.last",
        "error-frame-then-done",
        OA_ERROR_CONFORMING,
        openai_stream(oa_role(), oa_text("Hello"), OPENAI_ERROR_FRAME),
        OA,
    ),
    # The error frame in the middle, the rest of the stream after it: the client stops at the frame.
    T(
        "openai.error.last",
        "error-frame-then-rest-of-stream",
        OA_ERROR_CONFORMING,
        openai_stream(oa_role(), oa_text("Hello"), OPENAI_ERROR_FRAME, oa_text(" there!"), oa_finish("stop")),
        OA,
    ),
    # --------------------------------------------------------------- openai.error.schema
    # `param` as a list, as a pydantic/FastAPI validation error gives its location: only a field
    # beside the message breaks the schema, and the client raises the same APIError.
    T(
        "openai.error.schema",
        "param-as-location-list",
        OA_ERROR_CONFORMING,
        openai_stream(
            oa_role(),
            oa_text("Hello"),
            {"error": {"message": OA_ERROR_MESSAGE, "type": "server_error", "param": ["body", "messages", 0]}},
            done=False,
        ),
        OA,
    ),
    # Hugging Face TGI streams its errors as {"error": "<text>", "error_type": "..."}.
    T(
        "openai.error.schema",
        "error-as-string",
        OA_ERROR_CONFORMING,
        openai_stream(oa_role(), oa_text("Hello"), {"error": OA_ERROR_MESSAGE, "error_type": "generation"}, done=False),
        OA,
        misread=Misread(
            'openai-python still raises APIError, but its message is the generic "An error occurred during streaming": '
            "the upstream's error text survives only in APIError.body",
            ("An error occurred during streaming",),
            caught_by="openai.error.message",
        ),
    ),
    # An error object without a message (a code and a type only).
    T(
        "openai.error.schema",
        "error-without-message",
        OA_ERROR_CONFORMING,
        openai_stream(oa_role(), oa_text("Hello"), {"error": {"type": "server_error", "code": 502}}, done=False),
        OA,
        misread=Misread(
            'openai-python raises APIError with the generic message "An error occurred during streaming" instead of the '
            "conforming frame's message",
            ("An error occurred during streaming",),
            caught_by="openai.error.message",
        ),
    ),
    # --------------------------------------------------------------- openai.sse.data-only
    # Every event named after its payload (a gateway writing Anthropic-style named events).
    T("openai.sse.data-only", "event-name-on-every-event", OA_CONFORMING, _each_event_named(OA_CONFORMING), OA),
    # An `id:` line on every event.
    T("openai.sse.data-only", "id-on-every-event", OA_CONFORMING, _each_event_numbered(OA_CONFORMING), OA),
    # The same `id:` lines with an extra blank line after each event (blank-line padding that is
    # harmless without `id:`): openai-python's decoder keeps the last event id and dispatches an
    # event with data "" on the extra blank line, which its stream loop then fails to parse.
    T(
        "openai.sse.data-only",
        "id-on-every-event-and-extra-blank-line",
        OA_CONFORMING,
        _each_event_numbered(OA_CONFORMING, b"\n\n\n"),
        OA,
        misread=Misread(
            'openai-python raises JSONDecodeError: after an id: line its SSE decoder dispatches an empty event (data "") '
            "on each further blank line; only openai.sse.data-only flags the stream (no event: line, so "
            "openai.sse.no-dataless-event does not)",
            ("deviating raised JSONDecodeError",),
            caught_by="openai.sse.no-dataless-event",
        ),
    ),
    # --------------------------------------------------------------- openai.reasoning.one-field
    # A proxy writing the reasoning into both dialects' fields of the same delta, for clients of either.
    T(
        "openai.reasoning.one-field",
        "reasoning-and-reasoning_content",
        openai_stream(
            oa_role(),
            oa({"reasoning_content": "Two plus two"}),
            oa({"reasoning_content": " is four."}),
            oa_text("4"),
            oa_finish("stop"),
        ),
        openai_stream(
            oa_role(),
            oa({"reasoning_content": "Two plus two", "reasoning": "Two plus two"}),
            oa({"reasoning_content": " is four.", "reasoning": " is four."}),
            oa_text("4"),
            oa_finish("stop"),
        ),
        OA,
        # The client keeps every unknown delta key as an extra field of the message: the second field
        # is the deviation itself, carried through. reasoning_content and everything else match, and
        # test_second_reasoning_field_holds_the_same_text shows the extra field holds the same text,
        # once: a client reading either field reads the same reasoning.
        ignore=("choices[0].message.reasoning",),
    ),
    # --------------------------------------------------------------- openai.chunk.identity-stable
    # The id changes mid-stream (a proxy stamping its own id on the chunks it rewrites).
    T(
        "openai.chunk.identity-stable",
        "id-changed-mid-stream",
        OA_CONFORMING,
        openai_stream(OA_HELLO[0], OA_HELLO[1], _set(OA_HELLO[2], id="chatcmpl-proxy-0001"), OA_HELLO[3]),
        OA,
    ),
    # The first chunk's id differs: a proxy synthesises the role chunk under its own id, then forwards
    # the upstream chunks with theirs.
    T(
        "openai.chunk.identity-stable",
        "first-chunk-id-differs",
        OA_CONFORMING,
        openai_stream(_set(OA_HELLO[0], id="chatcmpl-proxy-0001"), *OA_HELLO[1:]),
        OA,
        # The completion takes its id from the first chunk: the id this deviation changes.
        ignore=("id",),
    ),
    # `created` re-stamped with the proxy's clock on every chunk.
    T(
        "openai.chunk.identity-stable",
        "created-restamped-per-chunk",
        OA_CONFORMING,
        openai_stream(*(_set(data, created=data["created"] + n) for n, data in enumerate(OA_HELLO))),
        OA,
    ),
    # `model` renamed after the first chunk (the alias first, the dated snapshot after).
    T(
        "openai.chunk.identity-stable",
        "model-renamed-after-first-chunk",
        OA_CONFORMING,
        openai_stream(OA_HELLO[0], *(_set(data, model="gpt-4.1") for data in OA_HELLO[1:])),
        OA,
    ),
    # --------------------------------------------------------------- openai.choice.one-per-chunk
    # n=2: both choices in one chunk, instead of one chunk per choice (interleaved).
    T(
        "openai.choice.one-per-chunk",
        "two-choices-per-chunk",
        openai_stream(
            oa_role(index=0),
            oa_role(index=1),
            oa_text("Red", index=0),
            oa_text("Green", index=1),
            oa_finish("stop", index=0),
            oa_finish("stop", index=1),
        ),
        openai_stream(
            chunk(
                choice({"role": "assistant", "content": "", "refusal": None}, index=0),
                choice({"role": "assistant", "content": "", "refusal": None}, index=1),
            ),
            chunk(choice({"content": "Red"}, index=0), choice({"content": "Green"}, index=1)),
            chunk(choice({}, "stop", index=0), choice({}, "stop", index=1)),
        ),
        OA,
        request={**PLAIN_REQUEST, "n": 2},
    ),
]

# ---------------------------------------------------------------------------- Anthropic streams


def _hello(start: dict[str, Any] | None = None, delta: dict[str, Any] | None = None, block: Any = None) -> bytes:
    """A text turn, with message_start, the text block's start or message_delta replaced when given."""
    return anthropic_stream(
        start or message_start(25),
        block or text_start(0),
        text_delta(0, "Hello"),
        text_delta(0, " there!"),
        block_stop(0),
        delta or message_delta("end_turn", 12, input_tokens=25),
        MESSAGE_STOP,
    )


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    data = _copy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


AN_CONFORMING = _hello()
# The recorded mid-stream error: event: error, then EOF.
AN_ERROR_CONFORMING = anthropic_stream(message_start(25), text_start(0), text_delta(0, "Hello"), error_event())


def _an_tool(tool_id: str) -> bytes:
    return anthropic_stream(
        message_start(412),
        tool_start(0, tool_id, "get_weather"),
        json_delta(0, ""),
        json_delta(0, '{"city": "Paris"}'),
        block_stop(0),
        message_delta("tool_use", 58, input_tokens=412),
        MESSAGE_STOP,
    )


ANTHROPIC_CASES = [
    # --------------------------------------------------------------- anthropic.event.schema
    # A translating proxy leaves stop_sequence out of message_delta's delta.
    T(
        "anthropic.event.schema",
        "message-delta-without-stop-sequence",
        AN_CONFORMING,
        _hello(delta=_without(message_delta("end_turn", 12, input_tokens=25), "delta", "stop_sequence")),
        AN,
    ),
    # ... and out of message_start's message.
    T(
        "anthropic.event.schema",
        "message-start-without-stop-sequence",
        AN_CONFORMING,
        _hello(start=_without(message_start(25), "message", "stop_sequence")),
        AN,
    ),
    # A hand-built message_start without `content`: the SDK's snapshot has content None and the first
    # content_block_start appends to it.
    T(
        "anthropic.event.schema",
        "message-start-without-content",
        AN_CONFORMING,
        _hello(start=_without(message_start(25), "message", "content")),
        AN,
        misread=Misread(
            "anthropic-sdk-python raises AttributeError ('NoneType' object has no attribute 'append') at the first "
            "content_block_start when message_start's message has no content list",
            ("deviating raised AttributeError", "append"),
            caught_by="anthropic.event.client-fields",
        ),
    ),
    # A text block started as {"type": "text"}, without its empty text: the SDK adds each text_delta to None.
    T(
        "anthropic.event.schema",
        "text-block-start-without-text",
        AN_CONFORMING,
        _hello(block=block_start(0, {"type": "text"})),
        AN,
        misread=Misread(
            "anthropic-sdk-python raises TypeError (unsupported operand type(s) for +=: 'NoneType' and 'str') on the first "
            'text_delta when content_block_start gives a text block without "text"',
            ("deviating raised TypeError",),
            caught_by="anthropic.event.client-fields",
        ),
    ),
    # message_delta with an empty usage object: the SDK copies usage.output_tokens, None, over the count.
    T(
        "anthropic.event.schema",
        "message-delta-empty-usage",
        AN_CONFORMING,
        _hello(delta={**message_delta("end_turn", 12), "usage": {}}),
        AN,
        misread=Misread(
            "anthropic-sdk-python's final message has usage.output_tokens None (message_delta's usage replaces it); "
            "semantic.usage (breaks) notices when the stream is compared with a capture, otherwise only "
            "anthropic.event.schema flags it",
            ("usage.output_tokens: 12 -> None",),
            caught_by="anthropic.event.client-fields",
        ),
    ),
    # --------------------------------------------------------------- anthropic.message-start.input-tokens
    # SGLang and proxies whose upstream reports usage at the end: input_tokens 0 in message_start,
    # the real count in message_delta, whose counts replace message_start's in the final message.
    T(
        "anthropic.message-start.input-tokens",
        "zero-in-message-start-real-count-in-message-delta",
        AN_CONFORMING,
        _hello(start=message_start(0)),
        AN,
    ),
    # --------------------------------------------------------------- anthropic.error.last
    # A proxy closing the message after the error: message_stop follows the error event.
    T(
        "anthropic.error.last",
        "error-then-message-stop",
        AN_ERROR_CONFORMING,
        anthropic_stream(message_start(25), text_start(0), text_delta(0, "Hello"), error_event(), MESSAGE_STOP),
        AN,
    ),
    # ... or closing the block and the message as for a clean finish.
    T(
        "anthropic.error.last",
        "error-then-block-stop-message-delta-message-stop",
        AN_ERROR_CONFORMING,
        anthropic_stream(
            message_start(25),
            text_start(0),
            text_delta(0, "Hello"),
            error_event(),
            block_stop(0),
            message_delta("end_turn", 12),
            MESSAGE_STOP,
        ),
        AN,
    ),
]

# ---------------------------------------------------------------------------- both protocols

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
ENVOY_503 = b"upstream connect error or disconnect/reset before headers. reset reason: connection failure"


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _openai_error(message: str, kind: str = "server_error") -> bytes:
    return _json({"error": {"message": message, "type": kind, "param": None, "code": None}})


def _anthropic_error(message: str, kind: str = "api_error") -> bytes:
    return _json({"type": "error", "error": {"type": kind, "message": message}})


BOTH_CASES = [
    # --------------------------------------------------------------- http.error-body
    # The body is the deviation, so its text differs between the two exceptions by design: what must
    # match is the exception class (which the SDKs choose from the status) and the status.
    T(
        "http.error-body",
        "nginx-html-502",
        _openai_error("Bad gateway"),
        NGINX_502,
        OA,
        status=502,
    ),
    T(
        "http.error-body",
        "envoy-text-503",
        _openai_error("Service unavailable"),
        ENVOY_503,
        OA,
        status=503,
    ),
    T(
        "http.error-body",
        "plain-text-429",
        _openai_error("Rate limit reached", "rate_limit_error"),
        b"Too Many Requests",
        OA,
        status=429,
    ),
    T(
        "http.error-body",
        "nginx-html-502",
        _anthropic_error("Bad gateway"),
        NGINX_502,
        AN,
        status=502,
    ),
    T(
        "http.error-body",
        "plain-text-529",
        _anthropic_error("Overloaded", "overloaded_error"),
        b"Overloaded",
        AN,
        status=529,
    ),
    # An OpenAI-shaped JSON error body sent to an Anthropic client (a gateway with one error format).
    T(
        "http.error-body",
        "openai-shaped-body-400",
        _anthropic_error("max_tokens: Field required", "invalid_request_error"),
        _openai_error("max_tokens: Field required", "invalid_request_error"),
        AN,
        status=400,
    ),
    # --------------------------------------------------------------- semantic.tool-call-ids
    # A proxy that rewrites tool-call ids (and maps them back on the next request). The clients read
    # the same calls, name and arguments; only the id differs, and it is the rewritten one.
    T(
        "semantic.tool-call-ids",
        "rewritten-call-id",
        OA_TOOL_CONFORMING,
        OA_TOOL_CONFORMING.replace(CALL_A.encode(), b"call_proxy_0001"),
        OA,
        expect={
            "text": "",
            "tool_calls": [{"id": CALL_A, "name": "get_weather", "arguments": {"city": "Paris"}}],
            "finish": "tool_calls",
        },
        # The tool call's id is what the deviation rewrites.
        ignore=("choices[0].message.tool_calls[0].id",),
    ),
    T(
        "semantic.tool-call-ids",
        "rewritten-tool-use-id",
        _an_tool(TOOLU_A),
        _an_tool("toolu_proxy_0001"),
        AN,
        request=ANTHROPIC_REQUEST,
        expect={
            "text": "",
            "tool_calls": [{"id": TOOLU_A, "name": "get_weather", "arguments": {"city": "Paris"}}],
            "finish": "tool_calls",
        },
        # The tool_use block's id is what the deviation rewrites.
        ignore=("content[0].id",),
    ),
]

CASES = OPENAI_CASES + ANTHROPIC_CASES + BOTH_CASES


def _param(case: Tolerance) -> Any:
    return pytest.param(case, id=case.id)


# =========================================================================================
# Reading a stream with the official client
# =========================================================================================


@dataclass(frozen=True)
class Reading:
    """What the official client made of one response."""

    dump: dict[str, Any] | None = None
    """The final completion or message, `model_dump()`ed."""
    assembled: dict[str, Any] | None = None
    """The oracle's `Assembled` reading of it, in the suite's terms."""
    error: tuple[str, str, int | None] | None = None
    """(exception class, message, HTTP status) when the client raised."""


_READINGS: dict[tuple[str, bytes, int], Reading] = {}


def read(protocol: str, raw: bytes, status: int = 200) -> Reading:
    key = (protocol, raw, status)
    if key not in _READINGS:
        oracle = openai_python if protocol == OA else anthropic_python
        try:
            final = oracle.run(raw, status=status)
        except Exception as error:  # what the client raised is its reading
            kind = type(error)
            name = f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"
            _READINGS[key] = Reading(error=(name, str(error), getattr(error, "status_code", None)))
        else:
            _READINGS[key] = Reading(dump=final.model_dump(), assembled=vars(oracle.Assembled(final)))
    return _READINGS[key]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:160] + "…"


def _paths(a: Any, b: Any, path: str = "") -> list[str]:
    """Every path where two dumps differ, as `path: conforming -> deviating`."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            here = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                found.append(f"{here}: {_short(a.get(key, '<absent>'))} -> {_short(b.get(key, '<absent>'))}")
            else:
                found += _paths(a[key], b[key], here)
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [entry for i, (x, y) in enumerate(zip(a, b, strict=True)) for entry in _paths(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {_short(a)} -> {_short(b)}"]


def _ignored(difference: str, ignore: tuple[str, ...]) -> bool:
    path = difference.split(": ", 1)[0]
    return any(path == p or path.startswith((p + ".", p + "[")) for p in ignore)


def differences(case: Tolerance) -> list[str]:
    """How the client's reading of the deviating stream differs from its reading of the conforming one."""
    conforming = read(case.protocol, case.conforming, case.status)
    deviating = read(case.protocol, case.deviating, case.status)
    if conforming.error is not None and deviating.error is not None:
        (c_kind, c_message, c_status), (d_kind, d_message, d_status) = conforming.error, deviating.error
        found = []
        if c_kind != d_kind:
            found.append(f"exception class: {c_kind} -> {d_kind}")
        if c_status != d_status:
            found.append(f"status: {c_status} -> {d_status}")
        # An error response's body is what http.error-body is about, and the message is made from it.
        if case.status < 300 and c_message != d_message:
            found.append(f"exception message: {c_message!r} -> {d_message!r}")
        return found
    if conforming.error is not None or deviating.error is not None:
        if deviating.error is not None:
            kind, message, _status = deviating.error
            return [f"deviating raised {kind.rsplit('.', 1)[-1]}: {message!r} (conforming returned a final object)"]
        kind, message, _status = conforming.error or ("", "", None)
        return [f"conforming raised {kind}: {message!r}, deviating returned a final object"]
    assert conforming.assembled is not None and deviating.assembled is not None
    found = [f"Assembled.{entry}" for entry in _paths(conforming.assembled, deviating.assembled)]
    found += [entry for entry in _paths(conforming.dump, deviating.dump) if not _ignored(entry, case.ignore)]
    return found


# =========================================================================================
# The tests
# =========================================================================================


def _verdict(case: Tolerance, raw: bytes) -> Any:
    ctx = build_context(raw, case.protocol, request=case.request, expect=case.expect, status=case.status)
    return evaluate(registry()[case.invariant], ctx)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_case_exercises_its_invariant(case: Tolerance) -> None:
    """The conforming stream passes the invariant, the deviating one fails it: the case proves something."""
    conforming = _verdict(case, case.conforming)
    deviating = _verdict(case, case.deviating)
    assert conforming.outcome == "pass", conforming
    assert deviating.outcome == "fail", deviating


@pytest.mark.parametrize("case", [_param(case) for case in CASES if case.status < 300])
def test_conforming_stream_is_fully_conforming(case: Tolerance) -> None:
    """The reference side of each case meets every invariant of its protocol, not only the one at stake."""
    ctx = build_context(case.conforming, case.protocol, request=case.request, expect=case.expect)
    failing = [(v.invariant, v.reason) for v in check(ctx) if v.failing]
    assert failing == []


@pytest.mark.parametrize("case", [_param(case) for case in CASES if case.misread is None])
def test_client_reads_deviation_as_conforming(case: Tolerance) -> None:
    """The official client of the stream's protocol reads the deviating stream as the conforming one."""
    found = differences(case)
    assert found == [], f"{case.invariant}: the client reads {case.name!r} differently:\n" + "\n".join(found)
    # Each excluded path names a field the deviation really changes: no exclusion hides nothing.
    conforming = read(case.protocol, case.conforming, case.status)
    deviating = read(case.protocol, case.deviating, case.status)
    changed = _paths(conforming.dump, deviating.dump)
    for path in case.ignore:
        assert any(_ignored(entry, (path,)) for entry in changed), f"{path} is excluded but does not differ"


@pytest.mark.parametrize("case", [_param(case) for case in CASES if case.misread is not None])
def test_a_deviation_the_client_misreads_fails_a_breaks_invariant(case: Tolerance) -> None:
    """A deviation of a strict invariant's format that the client does not read the same way is pinned
    (the client's difference is the one its reason states), and a `breaks` invariant fails it too: the
    default gate does not let a proxy introduce it."""
    assert case.misread is not None
    found = "\n".join(differences(case))
    for fragment in case.misread.shows:
        assert fragment in found, (fragment, found)
    ctx = build_context(case.deviating, case.protocol, request=case.request, expect=case.expect, status=case.status)
    failing = {v.invariant for v in check(ctx) if v.failing}
    assert case.misread.caught_by in failing, sorted(failing)
    assert registry()[case.misread.caught_by].impact == "breaks"


def test_empty_delta_usage_is_caught_against_a_capture() -> None:
    """The one misread above that a breaks invariant notices, once a capture says what the usage was."""
    (case,) = [c for c in CASES if c.name == "message-delta-empty-usage"]
    expect = {
        "text": "Hello there!",
        "tool_calls": [],
        "finish": "stop",
        "usage": {"input_tokens": 25, "output_tokens": 12},
    }
    ctx = build_context(case.deviating, AN, expect=expect)
    assert evaluate(registry()["semantic.usage"], ctx).outcome == "fail"


def test_error_responses_raise_with_the_status() -> None:
    """For http.error-body the comparison above drops the message: both readings are errors, and
    each client keeps the status on what it raises."""
    for case in CASES:
        if case.invariant == "http.error-body":
            for raw in (case.conforming, case.deviating):
                reading = read(case.protocol, raw, case.status)
                assert reading.error is not None and reading.error[2] == case.status, (case.id, reading)


def test_second_reasoning_field_holds_the_same_text() -> None:
    """reasoning + reasoning_content: the client keeps both as extra fields, each with the text once."""
    (case,) = [c for c in CASES if c.invariant == "openai.reasoning.one-field"]
    message = read(OA, case.deviating).dump["choices"][0]["message"]  # type: ignore[index]
    assert message["reasoning_content"] == message["reasoning"] == "Two plus two is four."


def test_tool_call_ids_are_the_only_difference() -> None:
    """semantic.tool-call-ids: the calls read alike, and each client holds the rewritten id."""
    for case in CASES:
        if case.invariant == "semantic.tool-call-ids":
            dump = read(case.protocol, case.deviating).dump
            assert dump is not None
            held = (
                dump["choices"][0]["message"]["tool_calls"][0]["id"]
                if case.protocol == OA
                else dump["content"][0]["id"]
            )
            assert held in ("call_proxy_0001", "toolu_proxy_0001"), (case.id, held)


# The lenient chunk schema deliberately accepts these provider habits (its description says why), so
# they are no deviation at all; the client reads them alike but for the two values they change.
WIDENED = openai_stream(
    *(_set(_choices(data, drop=("logprobs",)), service_tier="standard", system_fingerprint=None) for data in OA_HELLO)
)


def test_widened_fields_are_no_deviation() -> None:
    """No `logprobs`, `service_tier: "standard"` and `system_fingerprint: null` pass openai.chunk.schema."""
    ctx = build_context(WIDENED, OA)
    assert evaluate(registry()["openai.chunk.schema"], ctx).outcome == "pass"
    case = T(
        "openai.chunk.schema", "widened", OA_CONFORMING, WIDENED, OA, ignore=("service_tier", "system_fingerprint")
    )
    assert differences(case) == []


def test_every_strict_invariant_is_proven() -> None:
    """Every strict invariant has a case the clients read alike (with both clients when it applies to
    every protocol), and no case names a `breaks` invariant or an unknown one."""
    invariants = registry()
    named = {case.invariant for case in CASES}
    assert named <= set(invariants), sorted(named - set(invariants))
    breaks = sorted({c.invariant for c in CASES if c.misread is None and invariants[c.invariant].impact != "strict"})
    assert breaks == [], f"tolerance cases for breaks invariants: {breaks}"
    proven: dict[str, set[str]] = {}
    for case in CASES:
        if case.misread is None:
            proven.setdefault(case.invariant, set()).add(case.protocol)
    for inv in invariants.values():
        # The Responses protocol's strict invariants: tests/test_openai_responses.py reads each
        # deviation and its conforming stream with client.responses.stream() (strict_deviations_read_alike).
        if inv.impact != "strict" or inv.protocol == "openai-responses":
            continue
        needed = {inv.protocol} if inv.protocol is not None else {OA, AN}
        missing = needed - proven.get(inv.id, set())
        assert not missing, (
            f"strict invariant {inv.id} has no tolerance case read alike by the client of {sorted(missing)}"
        )


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
