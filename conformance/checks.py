"""From bytes to verdicts: framing, then schema and ordering per protocol, then semantics.

This module knows nothing of targets: it is handed the bytes a client received, the protocol
they claim to be, and optionally the capture they must preserve.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conformance import oracles as _oracles  # noqa: F401  (registers oracle.*)
from conformance import semantics as _semantics  # noqa: F401  (registers semantic.*)
from conformance.invariants import Invariant, Verdict, evaluate, select
from conformance.protocols import (
    ANTHROPIC_MESSAGES,
    OPENAI_CHAT,
    OPENAI_PROFILE,
    OPENAI_RESPONSES,
    RESPONSES_PROFILES,
    anthropic_messages,
    openai_chat,
    openai_responses,
)
from conformance.protocols import framing as _framing  # noqa: F401  (registers sse.*)
from conformance.protocols import http as _http  # noqa: F401  (registers http.*)
from conformance.protocols import transport as _transport  # noqa: F401  (registers transport.*)
from conformance.protocols.http import error_response
from conformance.sse import Event, Observation, parse
from conformance.stream import Context, decode

__all__ = ["build_context", "parsed_context", "check", "PROTOCOLS"]

PROTOCOLS = {OPENAI_CHAT: openai_chat, ANTHROPIC_MESSAGES: anthropic_messages, OPENAI_RESPONSES: openai_responses}
# An error response (4xx, 5xx) is a JSON body, not an event stream: only the checks that judge the
# whole response apply to it.
_WHOLE_RESPONSE = ("semantic.", "http.", "oracle.")


def build_context(
    raw: bytes,
    protocol: str,
    *,
    chunks: Iterable[bytes] | None = None,
    request: dict[str, Any] | None = None,
    expect: dict[str, Any] | None = None,
    negative: dict[str, Any] | None = None,
    usage_requested: bool = True,
    status: int = 200,
    ending: str = "complete",
    expect_protocol: str | None = None,
    responses_profile: str = OPENAI_PROFILE,
) -> Context:
    """Parse `raw` (fed in `chunks` when given, to check the stream as it arrived) and assemble it."""
    if status >= 300:
        events, observations = [], ()
    else:
        events, observations = parse(list(chunks) if chunks is not None else raw)
    return parsed_context(
        raw,
        protocol,
        events,
        observations,
        request=request,
        expect=expect,
        negative=negative,
        usage_requested=usage_requested,
        status=status,
        ending=ending,
        expect_protocol=expect_protocol,
        responses_profile=responses_profile,
    )


def parsed_context(
    raw: bytes,
    protocol: str,
    events: list[Event],
    observations: tuple[Observation, ...],
    *,
    request: dict[str, Any] | None = None,
    expect: dict[str, Any] | None = None,
    negative: dict[str, Any] | None = None,
    usage_requested: bool = True,
    status: int = 200,
    ending: str = "complete",
    expect_protocol: str | None = None,
    responses_profile: str = OPENAI_PROFILE,
) -> Context:
    """The context of `raw` already parsed into SSE `events`: payloads decoded, viewed and assembled.

    `responses_profile` says how an `openai-responses` stream must end (`conformance.protocols`:
    `openai`, with no `[DONE]`, or `open-responses`, with `[DONE]` after the terminal event); the
    other protocols ignore it."""
    if responses_profile not in RESPONSES_PROFILES:
        raise ValueError(f"unknown Responses profile {responses_profile!r}; known: {', '.join(RESPONSES_PROFILES)}")
    module = _module(protocol)
    payloads = decode(events)
    protocol_view = module.view(payloads)
    message = module.assemble(protocol_view) if status < 300 else error_response(raw, status)
    return Context(
        protocol=protocol,
        raw=raw,
        events=events,
        observations=observations,
        payloads=payloads,
        view=protocol_view,
        message=message,
        request=request or {},
        expect=expect,
        negative=negative,
        usage_requested=usage_requested,
        status=status,
        ending=ending,
        expect_protocol=expect_protocol,
        responses_profile=responses_profile,
    )


def _module(protocol: str) -> Any:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def check(ctx: Context, invariants: Iterable[Invariant] | None = None) -> list[Verdict]:
    """The verdict of every invariant that applies to the context's protocol, in id order.

    An output with no event at all (a 2xx body that is empty, or holds no complete event) leaves
    nothing for most invariants to judge: they are skipped rather than passed vacuously, and those
    that judge silence (`sse.has-events`, the clean finish or error an upstream called for) decide."""
    chosen = select(ctx.protocol) if invariants is None else list(invariants)
    if ctx.status >= 300:
        chosen = [inv for inv in chosen if inv.id.startswith(_WHOLE_RESPONSE)]
        if ctx.negative is None:
            # An error response holds none of a complete capture's content: only its clean finish,
            # the error body and the clients' reading of it are judged.
            return [
                inv.silent if inv.id.startswith("semantic.") and not inv.judges_silence else evaluate(inv, ctx)
                for inv in chosen
            ]
    elif not ctx.events:
        return [evaluate(inv, ctx) if inv.judges_silence else inv.silent for inv in chosen]
    return [evaluate(inv, ctx) for inv in chosen]
