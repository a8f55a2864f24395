"""Output framing shared by the built-in targets: OpenAI `data:` chunks, Anthropic named events,
and the error payload each protocol uses mid-stream.

The error writers are public, as `conformance.openai_error`, `conformance.anthropic_error` and
`conformance.anthropic_error_type`, for a target of one's own to tell its client that the upstream
failed (README: Write a target).

Everything is written in the canonical framing (LF line ends, one space after the colon) with
compact JSON; checks compare parsed JSON, never bytes.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.sse import format_event

__all__ = [
    "ANTHROPIC_ERROR_TYPES",
    "DONE",
    "anthropic_error",
    "anthropic_error_type",
    "anthropic_event",
    "anthropic_message_start",
    "chat_envelope",
    "dumps",
    "openai_chunk",
    "openai_error",
    "responses_event",
    "responses_failure",
]

DONE = b"data: [DONE]\n\n"

# The `error.type` enum of anthropic-sdk-python (`src/anthropic/types/shared/`).
ANTHROPIC_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "timeout_error",
        "api_error",
        "overloaded_error",
    }
)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def openai_chunk(chunk: dict[str, Any]) -> bytes:
    """One unnamed `data:` event, as OpenAI streams chat chunks."""
    return format_event(dumps(chunk))


def openai_error(message: str, type_: str | None, code: Any = None) -> bytes:
    """The in-stream OpenAI error frame, `data: {"error": {"message", "type", "code"}}`; the caller
    closes without [DONE], as OpenAI does. `type_` is the upstream's error type when it gave one
    (`server_error`, `rate_limit_exceeded`, ...), `code` its code or HTTP status."""
    return format_event(dumps({"error": {"message": message, "type": type_, "code": code}}))


def anthropic_event(payload: dict[str, Any]) -> bytes:
    """A named event whose `event:` equals the JSON `type`, as in every recorded Anthropic stream."""
    return format_event(dumps(payload), event=str(payload["type"]))


def anthropic_error(type_: str, message: str) -> bytes:
    """`event: error` with `{"type": "error", "error": {"type": type_, "message": message}}`, after which
    the stream ends: no message_delta, no message_stop, as Anthropic does. `type_` is one of
    `ANTHROPIC_ERROR_TYPES`; `anthropic_error_type` picks it from what the upstream reported."""
    return anthropic_event({"type": "error", "error": {"type": type_, "message": message}})


def anthropic_error_type(status: int | None = None, hint: Any = None) -> str:
    """The Anthropic error type that best says what the upstream reported.

    `hint` is whatever the upstream called its error (an OpenAI `type` or `code`, an Anthropic
    `type`); only rate limiting and overload are worth telling apart for a client, which retries
    them, so everything else is `api_error`.
    """
    text = str(hint or "").lower()
    if text in ANTHROPIC_ERROR_TYPES:
        return text
    if status == 429 or "rate_limit" in text or text == "429":
        return "rate_limit_error"
    if status in (503, 529) or "overloaded" in text or text in ("503", "529"):
        return "overloaded_error"
    return "api_error"


def anthropic_message_start(message_id: str, model: str, usage: dict[str, Any]) -> bytes:
    """`message_start` with the still empty message an adapter opens its stream with."""
    message = {
        "id": "msg_" + message_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return anthropic_event({"type": "message_start", "message": message})


def chat_envelope(chunk_id: str, created: int, model: str, **fields: Any) -> dict[str, Any]:
    """A `chat.completion.chunk` an adapter writes: its id, clock and model, then `fields`."""
    return {
        "id": "chatcmpl-" + chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        **fields,
    }


def responses_event(payload: dict[str, Any]) -> bytes:
    """A Responses event: `event:` equal to the JSON `type`, as in every recorded Responses stream."""
    return format_event(dumps(payload), event=str(payload["type"]))


def responses_failure(
    sequence: int, response: dict[str, Any] | None, message: str, code: str = "server_error", *, errored: bool = False
) -> list[bytes]:
    """How a Responses stream ends when it fails: `error`, in the nested shape OpenAI sends, then
    `response.failed` carrying the response created earlier, numbered from `sequence`. With
    `errored` the `error` already went out and only `response.failed` follows; with no response
    created yet there is nothing to fail, and the `error` alone ends the stream."""
    events: list[bytes] = []
    if not errored:
        error = {"type": "server_error", "code": code, "message": message, "param": None}
        events.append(responses_event({"type": "error", "sequence_number": sequence, "error": error}))
    if response is not None:
        failed = {**response, "status": "failed", "error": {"code": code, "message": message}}
        events.append(
            responses_event({"type": "response.failed", "sequence_number": sequence + len(events), "response": failed})
        )
    return events
