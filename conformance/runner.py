"""Running one case: a capture replayed upstream, a target in between, the checks on what came out.

The replay server and the targets share one event loop on a background thread for the whole
run, so a target may keep connections or processes across cases, and a case that hangs is
cancelled after its time bound while the rest of the run goes on.

A case runs in three steps: `begin` starts its stream on the loop, `wait` takes what the client
received, `judge` checks it. The plugin begins the next case between the last two, so that a target
running in another process streams while this one checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conformance.attribution import Upstream, grade, upstream_violations
from conformance.checks import build_context, check
from conformance.client_request import client_request
from conformance.corpus import Capture
from conformance.model_names import capture_name
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_PROFILE, OPENAI_RESPONSES
from conformance.replay import ReplayServer, Slot
from conformance.results import CaseResult, Output, item_class
from conformance.routes import Route, route_id
from conformance.sse import SSEParser
from conformance.targets import failure, timed_out
from conformance.targets.base import Abort, Exchange, Head, Target

__all__ = ["Case", "CaseResult", "Pending", "Runner", "Streamed", "collect", "routes_for", "unserved"]

T = TypeVar("T")


_LOOP_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class Case:
    capture: Capture
    route: Route
    schedule: str

    @property
    def id(self) -> str:
        return f"{self.capture.id}[{route_id(self.route)}][{self.schedule}]"


def routes_for(capture: Capture, target: Target) -> tuple[list[Route], list[Route]]:
    """(routes the target serves for this capture's protocol, those it lacks), over every client protocol."""
    from conformance.checks import PROTOCOLS

    wanted = [(capture.protocol, client) for client in PROTOCOLS]
    return [r for r in wanted if r in target.routes], [r for r in wanted if r not in target.routes]


def unserved(capture: Capture, target: Target, route: Route) -> str | None:
    """Why `target` does not serve this capture's provider on `route` (a proxy configured for some
    providers only, `HttpTarget.unserved`; a gateway that sends some providers elsewhere on a
    route), or None."""
    reason = getattr(target, "unserved", None)
    return reason(route, capture.provider) if reason is not None else None


def _usage_requested(request: dict[str, Any], client_protocol: str) -> bool:
    if client_protocol in (ANTHROPIC_MESSAGES, OPENAI_RESPONSES):
        # Anthropic streams always report usage (message_start, message_delta), Responses streams
        # on their terminal response.
        return True
    options = request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


@dataclass(slots=True)
class Streamed:
    """What a case's stream gave the client, or why it gave nothing."""

    seconds: float
    output: Output = field(default_factory=Output)
    error: str | None = None
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    """A case whose stream has begun on the loop."""

    case: Case
    target: str
    request: dict[str, Any]
    slot: Slot
    future: concurrent.futures.Future[Streamed]
    responses_profile: str = OPENAI_PROFILE
    """How the target's Responses streams end (`conformance.protocols.RESPONSES_PROFILES`)."""


async def collect(
    target: Target,
    exchange: Exchange,
    *,
    stop_after: int | None = None,
    times: list[float] | None = None,
) -> Output:
    """What the target's client receives. With `stop_after`, the client closes the stream after that
    many complete SSE events; `times` receives each complete event's arrival (monotonic seconds).
    Without either, the bytes are not parsed here."""
    output = Output()
    chunks = output.chunks
    parser = SSEParser() if stop_after is not None or times is not None else None
    events = 0
    stream = target.stream(exchange)
    try:
        async for chunk in stream:
            if isinstance(chunk, Head):
                if chunks:
                    raise TypeError(
                        f"target {target.name} yielded a Head after {len(chunks)} writes; it must come first"
                    )
                output.status = chunk.status
                continue
            if isinstance(chunk, Abort):
                output.ending, output.abort_reason = "aborted", chunk.reason
                break
            chunks.append(bytes(chunk))
            if parser is None:
                continue
            now = time.monotonic()
            for _ in parser.feed(chunks[-1]):
                events += 1
                if times is not None:
                    times.append(now)
            if stop_after is not None and events >= stop_after:
                break
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()
    return output


class Runner:
    """Owns the background loop and the replay server for one run."""

    def __init__(self, timeout: float = 30.0, replay_port: int = 0) -> None:
        """`replay_port` fixes the replay server's port (0: any free one), for a proxy configured by hand."""
        self.timeout = timeout
        self._upstreams: dict[tuple[str, Route], Upstream] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="conformance-loop", daemon=True)
        self._thread.start()
        self.replay = ReplayServer(port=replay_port)
        try:
            self.call(self.replay.start(), timeout=10)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            raise

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coroutine` on the loop now; its result is the future's."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self, target: Target | None = None) -> None:
        closer = getattr(target, "aclose", None)
        try:
            if closer is not None:
                self.call(closer(), timeout=self.timeout)
            self.call(self.replay.close(), timeout=10)
            # Streams a target stopped reading early leave async generators for the loop to close.
            self.call(self._loop.shutdown_asyncgens(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def begin(self, case: Case, target: Target) -> Pending:
        """Start streaming `case` through `target` on the loop; `wait` and `judge` finish it."""
        capture = case.capture
        slot = self.replay.register(
            capture.body,
            schedule=case.schedule,
            status=capture.status,
            headers=capture.headers,
            reset_at_end=capture.ending == "aborted",
            protocol=capture.protocol,
            name=capture_name(capture),
        )
        request = client_request(capture.client_body, case.route[0], case.route[1])
        exchange = Exchange(case.route, request, slot.url, token=slot.token, name=slot.name, provider=capture.provider)
        future = self.submit(self._streamed(target, exchange, slot))
        return Pending(case, target.name, request, slot, future, getattr(target, "responses_profile", OPENAI_PROFILE))

    def claimed(self, target: Target, slot: Slot) -> contextlib.AbstractAsyncContextManager[None]:
        """While inside, the replay server answers to the slot's stable name, if the target uses
        names; a stream of a name in flight waits here for it to end."""
        return self.replay.claimed(slot) if getattr(target, "stable_names", False) else contextlib.nullcontext()

    async def _streamed(self, target: Target, exchange: Exchange, slot: Slot) -> Streamed:
        async with self.claimed(target, slot):
            # Timed once its name is free, so that a case begun ahead of its turn is judged by its own time.
            started = time.perf_counter()
            try:
                output = await asyncio.wait_for(collect(target, exchange), self.timeout)
            except TimeoutError:
                error = timed_out(target.name, self.timeout)
                return Streamed(time.perf_counter() - started, error=error, timed_out=True)
            except Exception as error:  # a crashing target is a verdict on the target, not on the run
                return Streamed(time.perf_counter() - started, error=failure(target, error))
            return Streamed(time.perf_counter() - started, output)

    def wait(self, pending: Pending) -> Streamed:
        """The case's stream once it has ended. A bound here too: a target that blocks the loop
        thread never lets the loop's own time-out fire."""
        try:
            return pending.future.result(self.timeout + _LOOP_GRACE)
        except TimeoutError:
            pending.future.cancel()
            return Streamed(self.timeout, error=timed_out(pending.target, self.timeout), timed_out=True)
        finally:
            self.replay.unregister(pending.slot.token)

    def cancel(self, pending: Pending) -> None:
        """Drop a case begun ahead of its turn that will not run (the run stopped early)."""
        pending.future.cancel()
        self.replay.unregister(pending.slot.token)

    def judge(self, pending: Pending, streamed: Streamed) -> CaseResult:
        """The checks on what the client received, each failure graded by who caused it."""
        case, request = pending.case, pending.request
        if streamed.error is not None:
            ending = "timed-out" if streamed.timed_out else "complete"
            return CaseResult(case, "errored", error=streamed.error, seconds=streamed.seconds, ending=ending)
        output, capture = streamed.output, case.capture
        body = output.body
        usage_requested = _usage_requested(request, case.route[1])
        ctx = build_context(
            body,
            case.route[1],
            chunks=output.chunks,
            status=output.status,
            request=request,
            expect=capture.expect,
            negative=capture.negative,
            usage_requested=usage_requested,
            ending=output.ending,
            expect_protocol=capture.protocol,
            responses_profile=pending.responses_profile,
        )
        verdicts = grade(
            check(ctx),
            upstream=self._upstream(case, request, usage_requested) if case.route[0] == case.route[1] else None,
            quirks=capture.features,
            unseen_framing=capture.unseen_framing,
        )
        return CaseResult(
            case,
            item_class(verdicts),
            verdicts,
            body,
            output.status,
            len(output.chunks),
            ctx.message,
            seconds=streamed.seconds,
            upstream_requests=len(pending.slot.requests),
            ending=output.ending,
            upstream_identical=(body, output.status, output.ending) == (capture.body, capture.status, capture.ending),
        )

    def _upstream(self, case: Case, request: dict[str, Any], usage_requested: bool) -> Upstream:
        """What the capture's own stream, as a client calling the upstream directly would get it,
        breaks of an invariant; asked once per capture, route and invariant, whatever the schedule
        (parsing does not depend on how the bytes were cut)."""
        key = (case.capture.id, case.route)
        if key not in self._upstreams:
            capture = case.capture
            self._upstreams[key] = upstream_violations(
                lambda: build_context(
                    capture.body,
                    case.route[1],
                    status=capture.status,
                    request=request,
                    expect=capture.expect,
                    negative=capture.negative,
                    usage_requested=usage_requested,
                    ending=capture.ending,
                )
            )
        return self._upstreams[key]

    def run(self, case: Case, target: Target) -> CaseResult:
        pending = self.begin(case, target)
        return self.judge(pending, self.wait(pending))
