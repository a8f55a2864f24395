"""Error responses: a proxy that answers with a 4xx or 5xx status instead of a stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.neutral import Message, loads
from conformance.protocols import ANTHROPIC_MESSAGES
from conformance.stream import Context

__all__ = ["error_response"]


def error_response(raw: bytes, status: int) -> Message:
    """The neutral message of an error response: no content, the error its body names."""
    try:
        body: Any = loads(raw)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"message": raw.decode("utf-8", "replace")[:500]}
    return Message(error={**error, "status": status})


def _error_status(ctx: Context) -> bool:
    return ctx.status >= 300


@invariant(
    "http.error-body",
    impact="strict",
    hint='Answer a failed request with a JSON error body in the client\'s protocol, {"error": {"message": …}} for OpenAI clients and {"type": "error", "error": {"type": …, "message": …}} for Anthropic clients, never plain text or HTML.',
    applies=_error_status,
    evidence=[
        'https://openrouter.ai/docs/errors — a request that fails before streaming gets an HTTP error status and a JSON body {"error": {"code", "message"}}',
        "https://github.com/openai/openai-python/blob/main/src/openai/_base_client.py — openai-python reads error.message from a 4xx or 5xx JSON body for the exception it raises",
        'https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/shared/error_response.py — the Anthropic error body is {"type": "error", "error": {"type", "message"}}',
    ],
)
def error_body(ctx: Context) -> Iterator[Violation]:
    """A 4xx or 5xx response carries a JSON error object in the client's protocol: `{"error": {"message": …}}`, and for Anthropic clients `{"type": "error", "error": {"type": …, "message": …}}`."""
    try:
        body: Any = loads(ctx.raw)
    except ValueError:
        yield Violation(
            f"HTTP {ctx.status} body is not JSON", "a JSON error object", ctx.raw[:200].decode("utf-8", "replace")
        )
        return
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        yield Violation(f"HTTP {ctx.status} body has no error.message", {"error": {"message": "…"}}, body)
    elif ctx.protocol == ANTHROPIC_MESSAGES and (body.get("type") != "error" or not isinstance(error.get("type"), str)):
        yield Violation(
            f"HTTP {ctx.status} body is not an Anthropic error object",
            {"type": "error", "error": {"type": "…", "message": "…"}},
            body,
        )
