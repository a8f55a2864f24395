"""Transport checks: what a proxy does with time, cancellation, concurrency and upstream faults.

These are not per-capture content checks. Each check runs once per route through the target
(`conformance::transport::<check>[<route>]`) against a synthesized upstream served by the replay
server, and gives the verdicts of registered invariants:

- `incremental`: a paced upstream (50 ms between events); `transport.incremental`.
- `cancel-propagates`: the client leaves after a few events; `transport.cancel-propagates`.
- `concurrent-isolation`: 32 corpus captures at once, each compared with its run alone;
  `transport.concurrent-isolation`.
- `fault-*`: an upstream fault (HTTP 429 or 500 before the stream, the connection reset
  mid-stream, a stall past the target's upstream timeout, an unparsable JSON event, bytes that are
  not UTF-8, a stream that never sends its terminator); checked by `semantic.error-surfaced`,
  `semantic.text` (the text before the fault is kept, and nothing of the broken event) and
  `http.error-body`.

Invalid UTF-8 counts as a fault although SSE alone would decode it to U+FFFD (WHATWG §9.2.5):
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
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.checks import build_context, check
from conformance.client_request import client_request
from conformance.corpus import Capture, load_corpus
from conformance.invariants import Verdict, evaluate, registry
from conformance.protocols import OPENAI_CHAT
from conformance.protocols.transport import Cancellation, Isolation, Pacing
from conformance.replay import Slot
from conformance.results import CaseResult
from conformance.routes import Route, route_id
from conformance.runner import Runner, collect
from conformance.sse import SSEParser
from conformance.targets import failure, timed_out
from conformance.targets.base import Exchange, Target

__all__ = ["CHECKS", "SCHEDULE", "WAITING", "TransportCase", "run_check", "skip_reason", "start"]

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


def _text_delta(protocol: str, text: str) -> bytes:
    if protocol == OPENAI_CHAT:
        return _openai_chunk({"content": text})
    return _anthropic({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


def _opening(protocol: str) -> list[bytes]:
    if protocol == OPENAI_CHAT:
        return [_openai_chunk({"role": "assistant", "content": ""})]
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
    if protocol == OPENAI_CHAT:
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


def skip_reason(check: str, target: Target, spec: str, case_timeout: float) -> str | None:
    """Why `check` cannot run on this target, or None."""
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


def _exchange(route: Route, slot: Slot, provider: str = "") -> Exchange:
    request = client_request(_request(route[0]), route[0], route[1])
    return Exchange(
        route,
        request,
        slot.url,
        token=slot.token,
        provider=provider or ("openai" if route[0] == OPENAI_CHAT else "anthropic"),
    )


def _verdicts(context: Pacing | Cancellation | Isolation, ids: tuple[str, ...]) -> list[Verdict]:
    known = registry()
    return [evaluate(known[name], context) for name in ids]


async def _incremental(runner: Runner, target: Target, route: Route) -> CaseResult:
    body, _ = _text_body(route[0], INCREMENTAL_EVENTS - len(_opening(route[0])) - len(_closing(route[0], 0)))
    slot = runner.replay.register(body, schedule="event", delay=PACE, protocol=route[0])
    try:
        watcher = asyncio.ensure_future(_watch_request(slot))
        times: list[float] = []
        status, chunks = await collect(target, _exchange(route, slot), times=times)
        began = await asyncio.wait_for(watcher, 1) if slot.requests else None
    finally:
        runner.replay.unregister(slot.token)
    pieces = body.count(b"\n\n")
    relative = tuple(t - began for t in times) if began is not None else ()
    context = Pacing(PACE * (pieces - 1), relative)
    return _result(
        TransportCase("incremental", route),
        _verdicts(context, ("transport.incremental",)),
        chunks,
        status,
        len(slot.requests),
    )


async def _cancel(runner: Runner, target: Target, route: Route) -> CaseResult:
    body, _ = _text_body(route[0], CANCEL_EVENTS)
    slot = runner.replay.register(body, schedule="event", delay=CANCEL_PACE, protocol=route[0])
    try:
        status, chunks = await collect(target, _exchange(route, slot), stop_after=CANCEL_AFTER)
        closed = time.monotonic()
        disconnect: float | None = None
        while time.monotonic() - closed < CANCEL_BOUND + 0.5:
            if slot.disconnects:
                disconnect = time.monotonic() - closed
                break
            await asyncio.sleep(0.02)
    finally:
        runner.replay.unregister(slot.token)
    events = sum(1 for _ in SSEParser().feed(b"".join(chunks)))
    context = Cancellation(events, disconnect, CANCEL_BOUND)
    return _result(
        TransportCase("cancel-propagates", route),
        _verdicts(context, ("transport.cancel-propagates",)),
        chunks,
        status,
        len(slot.requests),
    )


async def _one_capture(runner: Runner, target: Target, route: Route, capture: Capture) -> dict[str, Any]:
    slot = runner.replay.register(
        capture.body, schedule="event", status=capture.status, headers=capture.headers, protocol=capture.protocol
    )
    try:
        request = client_request(capture.request, route[0], route[1])
        exchange = Exchange(route, request, slot.url, token=slot.token, provider=capture.provider)
        try:
            status, chunks = await collect(target, exchange)
        except Exception as error:  # a crash alone and under load must match too
            return {"raised": type(error).__name__}
    finally:
        runner.replay.unregister(slot.token)
    ctx = build_context(b"".join(chunks), route[1], chunks=chunks, status=status, request=request)
    return {"status": status, **ctx.message.to_json()}


def _isolation_captures(route: Route) -> list[Capture]:
    captures = [c for c in load_corpus().captures if c.protocol == route[0] and c.negative is None and c.status == 200]
    return sorted(captures, key=lambda c: c.id)


async def _concurrent(runner: Runner, target: Target, route: Route) -> CaseResult:
    captures = _isolation_captures(route)
    alone = {capture.id: await _one_capture(runner, target, route, capture) for capture in captures}
    chosen = [captures[n % len(captures)] for n in range(CONCURRENT_STREAMS)]
    together = await asyncio.gather(*(_one_capture(runner, target, route, capture) for capture in chosen))
    mismatches = tuple((c.id, alone[c.id], out) for c, out in zip(chosen, together, strict=True) if out != alone[c.id])
    context = Isolation(len(chosen), mismatches)
    return _result(
        TransportCase("concurrent-isolation", route),
        _verdicts(context, ("transport.concurrent-isolation",)),
        [],
        200,
        0,
    )


_FAULT_CHECKS = ("semantic.error-surfaced", "semantic.text", "http.error-body")
FAULTS: dict[str, str] = {
    "fault-http-429": "the upstream answers HTTP 429 with a JSON error before any event",
    "fault-http-500": "the upstream answers HTTP 500 with a JSON error before any event",
    "fault-reset": "the upstream connection is reset (TCP RST) mid-stream, before the chunked body's end",
    "fault-stall": "the upstream stalls mid-stream past the target's upstream read timeout",
    "fault-invalid-json": "a data event mid-stream is not JSON, and the stream then goes on to a clean finish",
    "fault-invalid-utf8": "a text delta mid-stream holds bytes that are not UTF-8, and the stream then goes on to a clean finish",
    "fault-no-done": "the upstream body ends cleanly after some text but never sends its finish or terminator",
}


async def _fault(runner: Runner, target: Target, route: Route, name: str) -> CaseResult:
    upstream = route[0]
    kwargs: dict[str, Any] = {"schedule": "event", "protocol": upstream}
    negative = {"kind": "upstream-error"}
    if name in ("fault-http-429", "fault-http-500"):
        body, text = _error_body(upstream, int(name[-3:])), ""
        kwargs["status"] = int(name[-3:])
    elif name in ("fault-reset", "fault-no-done"):
        body, text = _text_body(upstream, 5, closed=False)
        kwargs["reset_at_end"] = name == "fault-reset"
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
        broken = (
            b'data: {"id":"chatcmpl-transport","choices":[{"index":0,"delta":{"content":" in\n\n'
            if upstream == OPENAI_CHAT
            else b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" in\n\n'
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
    slot = runner.replay.register(body, **kwargs)
    try:
        exchange = _exchange(route, slot)
        status, chunks = await collect(target, exchange)
    finally:
        runner.replay.unregister(slot.token)
    output = b"".join(chunks)
    expect = {"text": text, "reasoning": "", "refusal": "", "tool_calls": [], "signatures": [], "finish": None}
    ctx = build_context(
        output, route[1], chunks=chunks, status=status, request=exchange.request, expect=expect, negative=negative
    )
    known = registry()
    verdicts = check(ctx, [known[name] for name in _FAULT_CHECKS])
    result = _result(TransportCase(name, route), verdicts, chunks, status, len(slot.requests))
    result.message = ctx.message
    return result


def _result(
    case: TransportCase, verdicts: list[Verdict], chunks: list[bytes], status: int, requests: int
) -> CaseResult:
    outcome = "failed" if any(v.outcome == "fail" for v in verdicts) else "passed"
    return CaseResult(case, outcome, verdicts, b"".join(chunks), status, len(chunks), upstream_requests=requests)


CHECKS: dict[str, str] = {
    "incremental": f"a paced upstream ({PACE * 1000:g} ms between {INCREMENTAL_EVENTS} events) streams through incrementally",
    "cancel-propagates": f"the client leaves after {CANCEL_AFTER} events; the upstream sees it within {CANCEL_BOUND:g} s",
    "concurrent-isolation": f"{CONCURRENT_STREAMS} corpus captures at once give the outputs they give alone",
    **FAULTS,
}
"""Every transport check, by name: what it does."""


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
        return CaseResult(case, "errored", error=timed_out(target.name, bound), seconds=time.perf_counter() - started)
    except Exception as error:
        return CaseResult(case, "errored", error=failure(target, error), seconds=time.perf_counter() - started)
    result.seconds = time.perf_counter() - started
    return result


def start(runner: Runner, target: Target, case: TransportCase) -> concurrent.futures.Future[CaseResult]:
    """Begin one transport check on the runner's loop now, within its time bound; `run_check`
    collects it."""
    if case.check == "incremental":
        coroutine = _incremental(runner, target, case.route)
    elif case.check == "cancel-propagates":
        coroutine = _cancel(runner, target, case.route)
    elif case.check == "concurrent-isolation":
        coroutine = _concurrent(runner, target, case.route)
    else:
        coroutine = _fault(runner, target, case.route, case.check)
    future: concurrent.futures.Future[CaseResult] = runner.submit(_timed(coroutine, case, target, _bound(runner, case)))
    return future


def run_check(
    runner: Runner, target: Target, case: TransportCase, started: concurrent.futures.Future[CaseResult] | None = None
) -> CaseResult:
    """The result of one transport check, begun now or earlier by `start`."""
    bound = _bound(runner, case)
    future = started if started is not None else start(runner, target, case)
    try:
        # The loop enforces the bound (`_timed`); this one only guards against a loop that hangs.
        return future.result(bound + 5)
    except TimeoutError:
        future.cancel()
        return CaseResult(case, "errored", error=timed_out(target.name, bound), seconds=bound)
