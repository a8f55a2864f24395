"""Oracle: what the official openai-python client assembles from an OpenAI Responses stream.

The stream's bytes are served over loopback HTTP and read by the real synchronous client, through
its own transport, SSE decoder, stream loop (`openai/_streaming.py`) and Responses accumulator
(`client.responses.stream()`, i.e. `ResponseStreamState` in
`openai/lib/streaming/responses/_responses.py`). No private function is called.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.neutral import neutral_finish, parse_arguments
from conformance.oracles._common import (
    TIMEOUT,
    compared,
    http_client,
    response_key,
)
from conformance.oracles._server import serving
from conformance.oracles.openai_python import verdicts
from conformance.protocols import OPENAI_RESPONSES
from conformance.stream import Context

__all__ = ["run", "Assembled"]

_INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
_DEFAULT_INPUT = "conformance oracle"


class Assembled:
    """The client's final response, in the terms a capture's `expect` uses."""

    def __init__(self, response: Any) -> None:
        text: list[str] = []
        refusal: list[str] = []
        reasoning: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.signatures: list[str] = []
        for item in getattr(response, "output", None) or []:
            kind = getattr(item, "type", None)
            if kind == "message":
                for part in getattr(item, "content", None) or []:
                    if getattr(part, "type", None) == "output_text":
                        text.append(getattr(part, "text", "") or "")
                    elif getattr(part, "type", None) == "refusal":
                        refusal.append(getattr(part, "refusal", "") or "")
            elif kind == "reasoning":
                reasoning.append(_reasoning(item))
                encrypted = getattr(item, "encrypted_content", None)
                if isinstance(encrypted, str) and encrypted:
                    self.signatures.append(encrypted)
            elif kind == "function_call":
                raw = getattr(item, "arguments", None)
                arguments = parse_arguments(raw)[0] if isinstance(raw, str) else raw
                self.tool_calls.append({"name": getattr(item, "name", None), "arguments": arguments})
            elif kind == "custom_tool_call":
                self.tool_calls.append({"name": getattr(item, "name", None), "arguments": getattr(item, "input", None)})
        self.text, self.refusal, self.reasoning = "".join(text), "".join(refusal), "".join(reasoning)
        self.status = getattr(response, "status", None)
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        if self.status == "incomplete" and isinstance(reason, str):
            self.finish: Any = _INCOMPLETE_FINISH.get(reason, reason)
        else:
            self.finish = neutral_finish("stop", bool(self.tool_calls)) if self.status == "completed" else self.status


def _reasoning(item: Any) -> str:
    """The raw reasoning text when the item has any, else its summary: as the suite reads it."""
    raw = "".join(getattr(part, "text", "") or "" for part in getattr(item, "content", None) or [])
    return raw or "".join(getattr(part, "text", "") or "" for part in getattr(item, "summary", None) or [])


def _request(ctx: Context) -> tuple[str, Any]:
    model = ctx.request.get("model")
    given = ctx.request.get("input")
    return (model if isinstance(model, str) and model else "conformance-oracle"), (
        given if isinstance(given, (str, list)) and given else _DEFAULT_INPUT
    )


def run(
    raw: bytes, model: str = "conformance-oracle", input: Any = _DEFAULT_INPUT, status: int = 200, aborted: bool = False
) -> Any:
    """Serve `raw` and read it with `client.responses.stream()`; returns the final response, or
    raises what the client raised.

    `get_final_response()` raises unless a `response.completed` arrived: a stream that ended with
    `response.incomplete` (a token limit, a content filter) is whole all the same, so the response
    that event carries, as the client assembled it, is returned for it."""
    import openai

    with serving(raw, status, aborted) as url:
        client = openai.OpenAI(
            base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=TIMEOUT, http_client=http_client(openai)
        )
        incomplete = None
        with client.responses.stream(model=model, input=input) as stream:
            for event in stream:
                if event.type == "response.incomplete":
                    incomplete = event.response
            if incomplete is not None:
                return incomplete
            return stream.get_final_response()


@invariant(
    "oracle.openai-python-responses",
    impact="breaks",
    hint="Emit Responses streams that client.responses.stream() assembles unchanged: response.created first, each item added at its output_index before its deltas and done after them, the terminal response.completed (or .incomplete) last, and error then response.failed when the upstream broke.",
    protocol=OPENAI_RESPONSES,
    level="proxy",
    applies=compared,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/responses/_responses.py — client.responses.stream() raises unless response.created comes first, places items and parts by output_index, and get_final_response() raises without response.completed",
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — the stream loop JSON-parses every event and raises APIError on an event carrying an error object",
        "https://platform.openai.com/docs/api-reference/responses-streaming — the events of a Responses stream, from response.created to response.completed",
    ],
)
def openai_python_responses(ctx: Context) -> Iterator[Violation]:
    """The official openai-python client, reading the stream over HTTP with `client.responses.stream()`, raises nothing and assembles the capture's text, refusal, reasoning (raw reasoning text, else the summary), tool calls (function calls with parsed arguments, custom tool calls with their input, in order), neutral finish and, from a Responses upstream, each reasoning item's encrypted_content; when the upstream broke, it raises."""
    model, given = _request(ctx)
    yield from verdicts(
        ctx,
        lambda openai: response_key(openai, ctx.raw, ctx.status, model, given, ctx.aborted, "responses"),
        lambda: run(ctx.raw, model, given, ctx.status, ctx.aborted),
        "a final response",
        lambda result: _judged(Assembled(result), encrypted=ctx.same_protocol),
    )


def _judged(got: Assembled, *, encrypted: bool) -> tuple[str, str, list[tuple[str, str, Any]]]:
    """What the client returned, how it ended, and each field to compare with the capture's; its
    reasoning items' encrypted_content only when `encrypted` (a Responses upstream: another
    protocol's reasoning signatures may be left out, which semantic.encrypted-reasoning judges)."""
    fields = [
        ("text", "text", got.text),
        ("refusal", "refusal", got.refusal),
        ("reasoning", "reasoning", got.reasoning),
        ("tool calls", "tool_calls", got.tool_calls),
        ("finish reason", "finish", got.finish),
    ]
    if encrypted:
        fields.append(("encrypted reasoning", "signatures", got.signatures))
    return "a response", f"status {got.status!r}", fields
