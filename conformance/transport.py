"""Transport checks: what a proxy does with time, cancellation, concurrency and upstream faults.

These are not per-capture content checks. Each check runs once per route through the target
(`conformance::transport::<check>[<route>]`) against a synthesized upstream served by the replay
server, and gives the verdicts of registered invariants:

- `incremental`: a paced upstream (50 ms between events); `transport.incremental`.
- `cancel-propagates`: the client leaves after a few events; `transport.cancel-propagates`.
- `concurrent-isolation`: 32 streams of the run's corpus captures (the shipped corpus, or the one
  given with `--corpus`) at once, each compared with its run alone; `transport.concurrent-isolation`.
- `fault-*`: an upstream fault (HTTP 429 or 500 before the stream, the connection reset
  mid-stream, a stall past the target's upstream timeout, an unparsable JSON event, bytes that are
  not UTF-8, a stream that never sends its terminator); checked by `semantic.error-surfaced`,
  `semantic.text` (the text before the fault is kept, and nothing of the broken event) and
  `http.error-body`.

Invalid UTF-8 counts as a fault although SSE alone would decode it to U+FFFD
(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):
the events carry JSON, which must be UTF-8 (RFC 8259 §8.1), and a proxy that substitutes
U+FFFD and finishes cleanly hands the client altered text that it cannot tell from the real one.

Timing bounds are deliberately generous (a loaded 2-core machine must never flake): a buffering
proxy misses them by seconds, not milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.attribution import grade, upstream_violations
from conformance.checks import build_context, check
from conformance.client_request import client_request, unaskable
from conformance.corpus import Capture, load_corpus
from conformance.invariants import Verdict, evaluate, registry
from conformance.model_names import capture_name, transport_name, transport_provider
from conformance.protocols import OPENAI_CHAT, OPENAI_RESPONSES
from conformance.protocols.transport import Cancellation, Isolation, Pacing
from conformance.replay import Slot
from conformance.results import CaseResult, Output, item_class
from conformance.routes import Route, route_id
from conformance.runner import Runner, collect, unserved
from conformance.sse import SSEParser
from conformance.targets import failure, timed_out
from conformance.targets.base import Exchange, Target

__all__ = [
    "CHECKS",
    "NAMED",
    "SCHEDULE",
    "WAITING",
    "TransportCase",
    "isolation_captures",
    "run_check",
    "skip_reason",
    "start",
]

SCHEDULE = "transport"
"""The `schedule` of every transport item in reports and expectations files."""

PACE = 0.05  # seconds between upstream events
INCREMENTAL_EVENTS = 30  # an upstream lasting 1.45 s
CANCEL_PACE = 0.1
CANCEL_EVENTS = 50  # 4.9 s: long past the cancel bound
CANCEL_AFTER = 3  # output events read before the client leaves
CANCEL_BOUND = 2.0  # seconds within which the upstream must see the client's disconnect
CONCURRENT_STREAMS = 32
STALL_MARGIN = 1.5  # seconds the stall lasts past the target's upstream read timeout

# -- synthesized upstream bodies ------------------------------------------------------------------

_WORDS = [f"w{number} " for number in range(1000)]


def _sse(data: str, name: str | None = None) -> bytes:
    return ((f"event: {name}\n" if name else "") + f"data: {data}\n\n").encode("utf-8")


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-transport",
        "object": "chat.completion.chunk",
        "created": 1795251621,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return _sse(json.dumps(chunk))


def _anthropic(payload: dict[str, Any]) -> bytes:
    return _sse(json.dumps(payload), str(payload["type"]))


# A Responses event's sequence_number until the body is whole (`_numbered`): the fault bodies are
# spliced from pieces, and only the whole body knows each event's place.
_SEQUENCE = "__sequence__"
_RESPONSE = {"id": "resp_transport", "object": "response", "created_at": 1795251621, "model": "gpt-4.1-mini"}
_MESSAGE_ITEM = {"id": "msg_transport", "type": "message", "role": "assistant"}


def _responses(payload: dict[str, Any]) -> bytes:
    return _sse(json.dumps({"type": payload["type"], "sequence_number": _SEQUENCE, **payload}), str(payload["type"]))


def _numbered(protocol: str, body: bytes) -> bytes:
    """A Responses body's events numbered 0, 1, 2, … in order; any other body as it is."""
    if protocol != OPENAI_RESPONSES:
        return body
    pieces = body.split(json.dumps(_SEQUENCE).encode())
    return b"".join(piece + (str(n).encode() if n < len(pieces) - 1 else b"") for n, piece in enumerate(pieces))


def _text_delta(protocol: str, text: str) -> bytes:
    if protocol == OPENAI_CHAT:
        return _openai_chunk({"content": text})
    if protocol == OPENAI_RESPONSES:
        delta = {"item_id": "msg_transport", "output_index": 0, "content_index": 0, "delta": text, "logprobs": []}
        return _responses({"type": "response.output_text.delta", **delta})
    return _anthropic({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


def _opening(protocol: str) -> list[bytes]:
    if protocol == OPENAI_CHAT:
        return [_openai_chunk({"role": "assistant", "content": ""})]
    if protocol == OPENAI_RESPONSES:
        response = {**_RESPONSE, "status": "in_progress", "output": [], "usage": None}
        item = {**_MESSAGE_ITEM, "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [
            _responses({"type": "response.created", "response": response}),
            _responses({"type": "response.output_item.added", "output_index": 0, "item": item}),
            _responses(
                {
                    "type": "response.content_part.added",
                    "item_id": "msg_transport",
                    "output_index": 0,
                    "content_index": 0,
                    "part": part,
                }
            ),
        ]
    message = {
        "id": "msg_transport",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 1},
    }
    return [
        _anthropic({"type": "message_start", "message": message}),
        _anthropic({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]


def _closing(protocol: str, words: int) -> list[bytes]:
    if protocol == OPENAI_CHAT:
        return [_openai_chunk({}, "stop"), b"data: [DONE]\n\n"]
    if protocol == OPENAI_RESPONSES:
        text = "".join(_WORDS[:words])
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        where = {"item_id": "msg_transport", "output_index": 0, "content_index": 0}
        item = {**_MESSAGE_ITEM, "status": "completed", "content": [part]}
        usage = {
            "input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 9 + words,
        }
        response = {**_RESPONSE, "status": "completed", "output": [item], "usage": usage}
        return [
            _responses({"type": "response.output_text.done", **where, "text": text, "logprobs": []}),
            _responses({"type": "response.content_part.done", **where, "part": part}),
            _responses({"type": "response.output_item.done", "output_index": 0, "item": item}),
            _responses({"type": "response.completed", "response": response}),
        ]
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": words},
    }
    return [
        _anthropic({"type": "content_block_stop", "index": 0}),
        _anthropic(delta),
        _anthropic({"type": "message_stop"}),
    ]


def _text_body(protocol: str, words: int, *, closed: bool = True) -> tuple[bytes, str]:
    """(a stream of `words` text deltas, its text); without `closed`, it stops before any finish."""
    events = _opening(protocol) + [_text_delta(protocol, word) for word in _WORDS[:words]]
    if closed:
        events += _closing(protocol, words)
    return b"".join(events), "".join(_WORDS[:words])


def _error_body(protocol: str, status: int) -> bytes:
    kind, message = (
        ("rate_limit_error", "Rate limit reached; retry later.")
        if status == 429
        else ("api_error", "Internal server error.")
    )
    if protocol in (OPENAI_CHAT, OPENAI_RESPONSES):
        return json.dumps(
            {
                "error": {
                    "message": message,
                    "type": kind if status == 429 else "server_error",
                    "param": None,
                    "code": "rate_limit_exceeded" if status == 429 else None,
                }
            }
        ).encode()
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def _request(upstream: str) -> dict[str, Any]:
    if upstream == OPENAI_RESPONSES:
        return {"model": "gpt-4.1-mini", "stream": True, "input": "Count in words."}
    if upstream == OPENAI_CHAT:
        return {
            "model": "gpt-4o-mini",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Count in words."}],
        }
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": True,
        "messages": [{"role": "user", "content": "Count in words."}],
    }


# -- running a check ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Capture:
    """Stands in for a corpus capture in reports and expectations: `transport/<check>`."""

    id: str
    path: Path


@dataclass(frozen=True, slots=True)
class TransportCase:
    check: str
    route: Route
    schedule: str = SCHEDULE

    @property
    def id(self) -> str:
        return f"transport::{self.check}[{route_id(self.route)}]"

    @property
    def capture(self) -> _Capture:
        return _Capture(f"transport/{self.check}", Path(__file__))


def skip_reason(
    check: str,
    target: Target,
    spec: str,
    case_timeout: float,
    *,
    route: Route | None = None,
    captures: Sequence[Capture] | None = None,
) -> str | None:
    """Why `check` cannot run on this target (on `route`, with the run's `captures`), or None."""
    if check == "concurrent-isolation" and route is not None and captures is not None:
        if not isolation_captures(route, captures, target):
            return (
                f"the corpus has no complete {route[0]} capture (not negative, HTTP 200) to stream concurrently "
                f"on route {route_id(route)}"
            )
    if check == "fault-stall":
        read_timeout = getattr(target, "upstream_read_timeout", None)
        if not isinstance(read_timeout, (int, float)) or read_timeout <= 0:
            return f"target {spec} does not declare its upstream read timeout (`upstream_read_timeout`), so no stall can be timed to outlast it"
        if read_timeout + STALL_MARGIN + 5 > case_timeout:
            return f"a stall past target {spec}'s {read_timeout:g} s upstream read timeout would outlast the {case_timeout:g} s case bound; raise it with --conformance-timeout"
    return None


async def _watch_request(slot: Slot) -> float:
    """When the replay server received the slot's first request (monotonic seconds)."""
    while not slot.requests:
        await asyncio.sleep(0.005)
    return time.monotonic()


def _exchange(route: Route, slot: Slot) -> Exchange:
    request = client_request(_request(route[0]), route[0], route[1])
    return Exchange(route, request, slot.url, token=slot.token, name=slot.name, provider=transport_provider(route))


def _verdicts(context: Pacing | Cancellation | Isolation, ids: tuple[str, ...]) -> list[Verdict]:
    known = registry()
    return [evaluate(known[name], context) for name in ids]


def _never_contacted(case: TransportCase, output: Output) -> CaseResult:
    """An item whose target answered without asking the upstream: the check has nothing to judge."""
    return CaseResult(
        case,
        "errored",
        output=output.body,
        status=output.status,
        chunks=len(output.chunks),
        ending=output.ending,
        error=f"the target never contacted the upstream (it answered HTTP {output.status} with "
        f"{len(output.body)} bytes), so {case.check} could not be judged; is the route configured?",
    )


async def _incremental(runner: Runner, target: Target, route: Route) -> CaseResult:
    case = TransportCase("incremental", route)
    body, _ = _text_body(route[0], INCREMENTAL_EVENTS - len(_opening(route[0])) - len(_closing(route[0], 0)))
    body = _numbered(route[0], body)
    slot = runner.replay.register(
        body, schedule="event", delay=PACE, protocol=route[0], name=transport_name(case.check, route)
    )
    try:
        watcher = asyncio.ensure_future(_watch_request(slot))
        times: list[float] = []
        async with runner.claimed(target, slot):
            output = await collect(target, _exchange(route, slot), times=times)
        began = await asyncio.wait_for(watcher, 1) if slot.requests else None
    finally:
        runner.replay.unregister(slot.token)
    if began is None:
        watcher.cancel()
        return _never_contacted(case, output)
    pieces = body.count(b"\n\n")
    context = Pacing(PACE * (pieces - 1), tuple(t - began for t in times))
    return _result(case, _verdicts(context, ("transport.incremental",)), output, len(slot.requests))


async def _cancel(runner: Runner, target: Target, route: Route) -> CaseResult:
    case = TransportCase("cancel-propagates", route)
    body, _ = _text_body(route[0], CANCEL_EVENTS)
    body = _numbered(route[0], body)
    slot = runner.replay.register(
        body, schedule="event", delay=CANCEL_PACE, protocol=route[0], name=transport_name(case.check, route)
    )
    try:
        async with runner.claimed(target, slot):
            output = await collect(target, _exchange(route, slot), stop_after=CANCEL_AFTER)
        closed = time.monotonic()
        disconnect: float | None = None
        while slot.requests and time.monotonic() - closed < CANCEL_BOUND + 0.5:
            if slot.disconnects:
                disconnect = time.monotonic() - closed
                break
            await asyncio.sleep(0.02)
    finally:
        runner.replay.unregister(slot.token)
    if not slot.requests:
        return _never_contacted(case, output)
    events = sum(1 for _ in SSEParser().feed(output.body))
    context = Cancellation(events, disconnect, CANCEL_BOUND)
    return _result(case, _verdicts(context, ("transport.cancel-propagates",)), output, len(slot.requests))


class _NothingToCompare(Exception):
    """A capture's run alone gave nothing to compare a concurrent run against."""


async def _one_capture(runner: Runner, target: Target, route: Route, capture: Capture) -> dict[str, Any]:
    """What the client of one stream of `capture` assembles; a run that raises is an outcome too."""
    slot = runner.replay.register(
        capture.body,
        schedule="event",
        status=capture.status,
        headers=capture.headers,
        protocol=capture.protocol,
        name=capture_name(capture),
    )
    try:
        request = client_request(capture.client_body, route[0], route[1])
        exchange = Exchange(route, request, slot.url, token=slot.token, name=slot.name, provider=capture.provider)
        try:
            # A capture streamed twice at once under a stable name runs its second stream after the first.
            async with runner.claimed(target, slot):
                output = await collect(target, exchange)
        except Exception as error:  # a crash alone and under load must match too
            return {"raised": failure(target, error), "upstream_requests": len(slot.requests)}
    finally:
        runner.replay.unregister(slot.token)
    ctx = build_context(output.body, route[1], chunks=output.chunks, status=output.status, request=request)
    return {
        "status": output.status,
        "ending": output.ending,
        "events": len(ctx.events),
        "upstream_requests": len(slot.requests),
        **ctx.message.to_json(),
    }


async def _alone(runner: Runner, target: Target, route: Route, capture: Capture) -> dict[str, Any]:
    """A capture's run alone, which must stream something for a concurrent run to be compared with."""
    record = await _one_capture(runner, target, route, capture)
    if "raised" in record:
        raise _NothingToCompare(f"{capture.id} alone: {record['raised']}")
    if not record["upstream_requests"]:
        raise _NothingToCompare(f"{capture.id} alone: the target never contacted the upstream")
    if record["status"] < 300 and not record["events"]:
        raise _NothingToCompare(f"{capture.id} alone: the target streamed no event (HTTP {record['status']})")
    return record


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    """A JSON value as {path: scalar}, so that two values can be compared field by field."""
    if isinstance(value, dict):
        return {key: leaf for name, item in value.items() for key, leaf in _leaves(item, f"{path}.{name}").items()}
    if isinstance(value, list):
        nested = {key: leaf for n, item in enumerate(value) for key, leaf in _leaves(item, f"{path}[{n}]").items()}
        return {**nested, f"{path}.length": len(value)}
    return {path: value}


def _varying(one: dict[str, Any], other: dict[str, Any]) -> frozenset[str]:
    """The fields in which two runs' records differ."""
    left, right = _leaves(one), _leaves(other)
    return frozenset(key for key in left.keys() | right.keys() if left.get(key) != right.get(key))


def isolation_captures(route: Route, captures: Sequence[Capture], target: Target) -> list[Capture]:
    """The captures `concurrent-isolation` may stream on `route`: complete ones (not negative, HTTP
    200) of its upstream protocol that its client can ask for and the target serves, by id."""
    chosen = [
        c
        for c in captures
        if c.protocol == route[0]
        and c.negative is None
        and c.status == 200
        and not unaskable(c.request, *route)
        and not unserved(c, target, route)
    ]
    return sorted(chosen, key=lambda c: c.id)


async def _concurrent(runner: Runner, target: Target, route: Route, corpus: Sequence[Capture]) -> CaseResult:
    case = TransportCase("concurrent-isolation", route)
    captures = isolation_captures(route, corpus, target)
    if not captures:
        return CaseResult(
            case, "errored", error=f"the corpus has no complete {route[0]} capture to stream concurrently"
        )
    # Each capture streamed concurrently is first run alone. One that gives nothing to compare alone
    # (the target raises on it, or never calls the upstream) is judged by its own items, not here:
    # the next capture takes its place.
    alone: dict[str, dict[str, Any]] = {}
    unusable: list[str] = []
    for capture in captures:
        if len(alone) == CONCURRENT_STREAMS:
            break
        try:
            alone[capture.id] = await _alone(runner, target, route, capture)
        except _NothingToCompare as error:
            unusable.append(str(error))
    if not alone:
        return CaseResult(case, "errored", error=f"concurrent isolation cannot be judged: {'; '.join(unusable)}")
    usable = [capture for capture in captures if capture.id in alone]
    chosen = [usable[n % len(usable)] for n in range(CONCURRENT_STREAMS)]
    try:
        together = await asyncio.gather(*(_one_capture(runner, target, route, capture) for capture in chosen))
        differing = [
            (capture, output)
            for capture, output in zip(chosen, together, strict=True)
            if _varying(alone[capture.id], output) - _COUNTS
        ]
        # A capture whose output under load differed is run alone once more: what differs between
        # two runs alone (a fresh id or clock) is the target's own variation, not interference, and
        # is left out of the comparison.
        varies: dict[str, frozenset[str]] = {}
        for capture, _output in differing:
            if capture.id not in varies:
                again = await _alone(runner, target, route, capture)
                varies[capture.id] = _varying(alone[capture.id], again) | _COUNTS
    except _NothingToCompare as error:
        return CaseResult(case, "errored", error=f"concurrent isolation cannot be judged: {error}")
    mismatches = tuple(
        (capture.id, alone[capture.id], output)
        for capture, output in differing
        if _varying(alone[capture.id], output) - varies[capture.id]
    )
    context = Isolation(len(chosen), mismatches)
    return _result(case, _verdicts(context, ("transport.concurrent-isolation",)), Output(), 0)


# Bookkeeping of a run, not the client's view of it.
_COUNTS = frozenset({".upstream_requests"})

_FAULT_CHECKS = ("semantic.error-surfaced", "semantic.text", "http.error-body")
FAULTS: dict[str, str] = {
    "fault-http-429": "the upstream answers HTTP 429 with a JSON error before any event",
    "fault-http-500": "the upstream answers HTTP 500 with a JSON error before any event",
    "fault-reset": "the upstream connection is reset (TCP RST) mid-stream, before the chunked body's end, a short pause after the target has had the bytes before it",
    "fault-reset-immediate": "the upstream connection is reset (TCP RST) mid-stream the moment its last bytes have left: whether the target keeps them depends on how its HTTP client reads a reset",
    "fault-stall": "the upstream stalls mid-stream past the target's upstream read timeout",
    "fault-invalid-json": "a data event mid-stream is not JSON, and the stream then goes on to a clean finish",
    "fault-invalid-utf8": "a text delta mid-stream holds bytes that are not UTF-8, and the stream then goes on to a clean finish",
    "fault-no-done": "the upstream body ends cleanly after some text but never sends its finish or terminator",
}


async def _fault(runner: Runner, target: Target, route: Route, name: str) -> CaseResult:
    case = TransportCase(name, route)
    upstream = route[0]
    kwargs: dict[str, Any] = {"schedule": "event", "protocol": upstream}
    negative = {"kind": "upstream-error"}
    if name in ("fault-http-429", "fault-http-500"):
        body, text = _error_body(upstream, int(name[-3:])), ""
        kwargs["status"] = int(name[-3:])
    elif name in ("fault-reset", "fault-reset-immediate", "fault-no-done"):
        body, text = _text_body(upstream, 5, closed=False)
        kwargs["reset_at_end"] = name != "fault-no-done"
        if name == "fault-reset-immediate":
            kwargs["reset_pause"] = 0.0
        negative = {"kind": "cut-off"}
    elif name == "fault-stall":
        first, text = _text_body(upstream, 2, closed=False)
        rest, _ = _text_body(upstream, 4)
        body = first + rest[len(first) :]
        # Every event is a piece; one long pause before the third text delta outlasts the target.
        kwargs["stall"] = (len(_opening(upstream)) + 2, float(target.upstream_read_timeout) + STALL_MARGIN)
        negative = {"kind": "cut-off"}
    elif name == "fault-invalid-json":
        before, text = _text_body(upstream, 3, closed=False)
        broken = {
            OPENAI_CHAT: b'data: {"id":"chatcmpl-transport","choices":[{"index":0,"delta":{"content":" in\n\n',
            OPENAI_RESPONSES: b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            b'"sequence_number":' + json.dumps(_SEQUENCE).encode() + b',"item_id":"msg_transport","output_index":0,'
            b'"content_index":0,"delta":" in\n\n',
        }.get(
            upstream,
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" in\n\n',
        )
        # Then the stream goes on to a clean finish, so a proxy that skips the event is caught too.
        body = before + broken + _text_delta(upstream, " after") + b"".join(_closing(upstream, 5))
        negative = {"kind": "invalid-json"}
    elif name == "fault-invalid-utf8":
        before, text = _text_body(upstream, 3, closed=False)
        bad = _text_delta(upstream, "bad:XX!").replace(b"XX", b"\xff\xc3")
        body = before + bad + _text_delta(upstream, " after") + b"".join(_closing(upstream, 5))
        negative = {"kind": "invalid-utf8"}
    else:
        raise ValueError(f"unknown fault {name!r}")
    body = _numbered(upstream, body)
    slot = runner.replay.register(body, name=transport_name(name, route), **kwargs)
    try:
        exchange = _exchange(route, slot)
        async with runner.claimed(target, slot):
            output = await collect(target, exchange)
    finally:
        runner.replay.unregister(slot.token)
    if not slot.requests:
        return _never_contacted(case, output)
    expect = {"text": text, "reasoning": "", "refusal": "", "tool_calls": [], "signatures": [], "finish": None}
    options: dict[str, Any] = {"request": exchange.request, "expect": expect, "negative": negative}
    ctx = build_context(
        output.body, route[1], chunks=output.chunks, status=output.status, ending=output.ending, **options
    )
    # What a client calling the upstream directly gets: the same bytes, ending as the upstream's did.
    # A stall is no fault of the upstream's own stream (it completes, late): the target's read timeout
    # is what is judged, so nothing there is inherited.
    direct = route[0] == route[1] and name != "fault-stall"
    ending = "aborted" if kwargs.get("reset_at_end") else "complete"
    status = int(kwargs.get("status", 200))
    verdicts = grade(
        check(ctx, [registry()[invariant] for invariant in _FAULT_CHECKS]),
        upstream=upstream_violations(lambda: build_context(body, route[1], status=status, ending=ending, **options))
        if direct
        else None,
        quirks=(name,),
    )
    result = _result(case, verdicts, output, len(slot.requests))
    result.message = ctx.message
    result.upstream_identical = direct and (output.body, output.status, output.ending) == (body, status, ending)
    return result


def _result(case: TransportCase, verdicts: list[Verdict], output: Output, requests: int) -> CaseResult:
    return CaseResult(
        case,
        item_class(verdicts),
        verdicts,
        output.body,
        output.status,
        len(output.chunks),
        upstream_requests=requests,
        ending=output.ending,
    )


CHECKS: dict[str, str] = {
    "incremental": f"a paced upstream ({PACE * 1000:g} ms between {INCREMENTAL_EVENTS} events) streams through incrementally",
    "cancel-propagates": f"the client leaves after {CANCEL_AFTER} events; the upstream sees it within {CANCEL_BOUND:g} s",
    "concurrent-isolation": f"{CONCURRENT_STREAMS} corpus captures at once give the outputs they give alone",
    **FAULTS,
}
"""Every transport check, by name: what it does."""


NAMED = tuple(check for check in CHECKS if check != "concurrent-isolation")
"""The checks whose streams go by a name of their own (`model_names.transport_name`); the
concurrent one streams the corpus's captures, under theirs."""

WAITING = frozenset({"incremental", "fault-stall"})
"""Checks that spend nearly all their time waiting on a paced or stalled upstream: a run may
`start` them all at once, so that together they take as long as the slowest, not the sum. Not
`cancel-propagates`: when a proxy closes an abandoned upstream only once the garbage collector
finalizes it (LiteLLM), other streams running beside it change the outcome."""


def _bound(runner: Runner, case: TransportCase) -> float:
    return float(runner.timeout) * (3 if case.check == "concurrent-isolation" else 1)


async def _timed(
    coroutine: Coroutine[Any, Any, CaseResult], case: TransportCase, target: Target, bound: float
) -> CaseResult:
    """Run one check within its time bound; a crash or time-out makes the item errored."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(coroutine, bound)
    except TimeoutError:
        return CaseResult(
            case,
            "errored",
            error=timed_out(target.name, bound),
            seconds=time.perf_counter() - started,
            ending="timed-out",
        )
    except Exception as error:
        return CaseResult(case, "errored", error=failure(target, error), seconds=time.perf_counter() - started)
    result.seconds = time.perf_counter() - started
    return result


def start(
    runner: Runner, target: Target, case: TransportCase, captures: Sequence[Capture] | None = None
) -> concurrent.futures.Future[CaseResult]:
    """Begin one transport check on the runner's loop now, within its time bound; `run_check`
    collects it. `captures` are the corpus captures a check streams (`concurrent-isolation`); by
    default, those of the shipped corpus."""
    if case.check == "incremental":
        coroutine = _incremental(runner, target, case.route)
    elif case.check == "cancel-propagates":
        coroutine = _cancel(runner, target, case.route)
    elif case.check == "concurrent-isolation":
        coroutine = _concurrent(runner, target, case.route, load_corpus().captures if captures is None else captures)
    else:
        coroutine = _fault(runner, target, case.route, case.check)
    future: concurrent.futures.Future[CaseResult] = runner.submit(_timed(coroutine, case, target, _bound(runner, case)))
    return future


def run_check(
    runner: Runner,
    target: Target,
    case: TransportCase,
    started: concurrent.futures.Future[CaseResult] | None = None,
    captures: Sequence[Capture] | None = None,
) -> CaseResult:
    """The result of one transport check, begun now or earlier by `start` (see there for `captures`)."""
    bound = _bound(runner, case)
    future = started if started is not None else start(runner, target, case, captures)
    try:
        # The loop enforces the bound (`_timed`); this one only guards against a loop that hangs.
        return future.result(bound + 5)
    except TimeoutError:
        future.cancel()
        return CaseResult(case, "errored", error=timed_out(target.name, bound), seconds=bound)
