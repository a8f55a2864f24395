"""The upstream leg of a built-in target: POST a streaming request, turn the response body into
SSE events, and turn every way it can go wrong into a value rather than an exception.

A route never sees httpx: it gets `Event`s in order and, at most once and last, an
`UpstreamFailure`. A normal end of the body simply ends the iteration; whether that end was clean
(the protocol's terminator arrived) is the route's call, since only it knows the terminator.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from conformance.sse import Event
from conformance.targets._tls import tls_context

__all__ = ["TIMEOUT", "Framer", "FramerFactory", "UpstreamFailure", "open_upstream"]

# Bounded so a silent upstream ends the stream with an error instead of hanging the harness.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_BODY_EXCERPT = 500


class Framer(Protocol):
    """Turns upstream reads into events. The reference uses `SSEParser`; mutants swap in a broken
    framer here to model real framing bugs (CRLF not split, UTF-8 split across reads corrupted)."""

    def feed(self, chunk: bytes) -> list[Event]: ...

    def close(self) -> list[Event]: ...


FramerFactory = Callable[[], Framer]


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """The upstream could not deliver its stream.

    `kind` is `status` (an HTTP status outside 2xx; `error` holds the body's `error` object when
    it had one), `transport` (no response: connect failure, timeout, reset before the headers),
    `cut-off` (the body broke off after it began: a reset, an incomplete chunked body, a read
    timeout) or `not-utf8` (the body holds bytes that are not UTF-8). To a route a cut-off is the
    same fault as a body that ends before its terminator.
    """

    kind: str
    message: str
    status: int | None = None
    error: dict[str, Any] | None = None


async def open_upstream(
    url: str,
    body: dict[str, Any],
    headers: tuple[tuple[str, str], ...],
    framer: Framer,
    timeout: httpx.Timeout = TIMEOUT,
) -> AsyncGenerator[Event | UpstreamFailure, None]:
    """Stream `body` to `url`; yield its SSE events, then at most one failure.

    One client per stream, so concurrent streams share no connection state.
    """
    body_began = False
    async with httpx.AsyncClient(timeout=timeout, verify=tls_context()) as client:
        try:
            async with client.stream("POST", url, json=body, headers=list(headers)) as response:
                if not 200 <= response.status_code < 300:
                    raw = await response.aread()
                    yield _status_failure(response.status_code, raw)
                    return
                body_began = True
                decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
                async for chunk in response.aiter_bytes():
                    valid = _utf8_prefix(decoder, chunk)
                    for event in framer.feed(valid):
                        yield event
                    offset += len(valid)
                    if len(valid) < len(chunk):
                        yield UpstreamFailure(
                            "not-utf8",
                            f"upstream sent bytes that are not UTF-8 at byte {offset} of its body: {chunk[len(valid) : len(valid) + 8]!r}",
                        )
                        return
                for event in framer.close():
                    yield event
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            if body_began:
                yield UpstreamFailure("cut-off", f"upstream connection broke off mid-stream: {detail}")
            else:
                yield UpstreamFailure("transport", f"upstream connection failed: {detail}")


def _utf8_prefix(decoder: codecs.IncrementalDecoder, chunk: bytes) -> bytes:
    """The part of `chunk` before its first byte that cannot be UTF-8 (all of it when valid).

    SSE would decode such bytes to U+FFFD (WHATWG "Parsing an event stream"), but the events carry
    JSON, which must be UTF-8 (RFC 8259 §8.1): a replacement character would alter the content
    silently, so the stream ends with an error before the event that holds them.
    """
    pending = len(decoder.getstate()[0])  # bytes of a character split across reads
    try:
        decoder.decode(chunk)
    except UnicodeDecodeError as error:
        return chunk[: max(0, error.start - pending)]
    return chunk


def _status_failure(status: int, raw: bytes) -> UpstreamFailure:
    text = raw.decode("utf-8", "replace")
    error: dict[str, Any] | None = None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    # Both OpenAI and Anthropic put a JSON `error` object in the body of an error status.
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        error = parsed["error"]
    detail = (error or {}).get("message") or text[:_BODY_EXCERPT] or "(empty body)"
    return UpstreamFailure("status", f"upstream answered HTTP {status}: {detail}", status, error)
