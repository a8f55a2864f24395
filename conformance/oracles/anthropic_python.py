"""Oracle: what the official anthropic-sdk-python client assembles from an Anthropic Messages stream.

The stream's bytes are served over loopback HTTP and read by the real synchronous client, through
its own transport, SSE decoder and dispatch by event name (`anthropic/_streaming.py`) and the
`MessageStream` accumulator behind `client.messages.stream()` (`accumulate_event` in
`anthropic/lib/streaming/_messages.py`). No private function is called.

This SDK is lenient where it matters most: it silently drops events that have no `event:` line
(`_streaming.py`) and deltas whose type does not match their block (`accumulate_event`). Such
output reaches its users as silently missing content, which this oracle reports as a difference
from the capture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.neutral import object_arguments
from conformance.oracles._common import (
    TIMEOUT,
    Reads,
    client_name,
    compared,
    describe_error,
    differs,
    http_client,
    response_key,
    unreadable,
)
from conformance.oracles._server import serving
from conformance.protocols import ANTHROPIC_MESSAGES
from conformance.protocols.anthropic_messages import FINISH
from conformance.semantics import expected_reasoning, expected_signatures
from conformance.stream import Context

__all__ = ["run", "Assembled"]

CLIENT = "anthropic-sdk-python"
# The SDK warns (DeprecationWarning) when asked for a retired model; the server ignores the model anyway.
_MODEL = "conformance-oracle"
_DEFAULT_MESSAGES = [{"role": "user", "content": "conformance oracle"}]
_READS = Reads()


class Assembled:
    """The client's final message, in the terms a capture's `expect` uses."""

    def __init__(self, message: Any) -> None:
        blocks = list(getattr(message, "content", None) or [])
        self.block_types = [getattr(block, "type", None) for block in blocks]
        self.text = "".join(
            _text(getattr(block, "text", None)) for block in blocks if getattr(block, "type", None) == "text"
        )
        thinking = [block for block in blocks if getattr(block, "type", None) == "thinking"]
        self.thinking = "".join(_text(getattr(block, "thinking", None)) for block in thinking)
        self.signatures = [
            block.signature
            for block in thinking
            if isinstance(getattr(block, "signature", None), str) and block.signature
        ]
        self.tool_calls = [
            {"name": getattr(block, "name", None), "arguments": getattr(block, "input", None)}
            for block in blocks
            if getattr(block, "type", None) == "tool_use"
        ]
        self.raw_finish = getattr(message, "stop_reason", None)
        self.finish = (
            FINISH.get(self.raw_finish, self.raw_finish) if isinstance(self.raw_finish, str) else self.raw_finish
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def run(
    raw: bytes, messages: list[Any] | None = None, max_tokens: int = 1024, status: int = 200, aborted: bool = False
) -> Any:
    """Serve `raw` and read it with `client.messages.stream()`; returns the final message, or raises what the client raised.

    With a `status` of 300 or more, `raw` is served as an error response."""
    import anthropic

    with serving(raw, status, aborted) as url:
        client = anthropic.Anthropic(
            base_url=url, api_key="x", max_retries=0, timeout=TIMEOUT, http_client=http_client(anthropic)
        )
        with client.messages.stream(
            model=_MODEL, max_tokens=max_tokens, messages=messages or _DEFAULT_MESSAGES
        ) as stream:
            return stream.get_final_message()


def _request(ctx: Context) -> tuple[list[Any], int]:
    messages = ctx.request.get("messages")
    max_tokens = ctx.request.get("max_tokens")
    return (messages if isinstance(messages, list) and messages else _DEFAULT_MESSAGES), (
        max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 1024
    )


@invariant(
    "oracle.anthropic-python",
    impact="breaks",
    hint="Emit named events in the documented order (message_start, each block's start, deltas and stop, one message_delta, message_stop), each delta in a block of its type, and an event: error when the upstream broke.",
    protocol=ANTHROPIC_MESSAGES,
    applies=compared,
    evidence=[
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — events without an event: name are skipped, and event: error raises",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/lib/streaming/_messages.py — accumulate_event needs message_start first, appends blocks without checking their index and silently ignores a delta of the wrong type",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — the documented event order the SDK expects",
    ],
)
def anthropic_python(ctx: Context) -> Iterator[Violation]:
    """The official anthropic-sdk-python client, reading the stream over HTTP with `client.messages.stream()`, raises nothing and assembles a final message whose text blocks, thinking text and signatures (from a Responses upstream, its encrypted reasoning verbatim or none), tool_use blocks (names and inputs, in order) and neutral stop reason are the capture's; when the upstream broke, it raises."""
    client = client_name("anthropic", CLIENT)
    try:
        import anthropic
    except ImportError as error:
        yield Violation(
            f"{client} cannot be imported ({error}); install it: pip install 'anthropic>=0.50'",
            "anthropic-sdk-python installed",
            None,
        )
        return
    messages, max_tokens = _request(ctx)
    key = response_key(anthropic, ctx.raw, ctx.status, messages, max_tokens, ctx.aborted)
    # Reading a response the target aborted, the client is meant to fail to read it to the end: that
    # is its verdict, not the loopback server's trouble.
    unreachable = () if ctx.aborted else anthropic.APIConnectionError
    read = _READS.get(key, lambda: run(ctx.raw, messages, max_tokens, ctx.status, ctx.aborted), transient=unreachable)
    error = read.error
    if not ctx.aborted and isinstance(error, anthropic.APIConnectionError):
        yield unreadable(client, error, "anthropic")
        return
    if error is not None:
        if ctx.negative is None:
            hint = (
                " (no event reached the accumulator: the client drops every event without an event: name)"
                if isinstance(error, AssertionError)
                else ""
            )
            yield Violation(
                f"{client} raised {describe_error(error, 'anthropic')}{hint}", "a final message", type(error).__name__
            )
        return
    got = Assembled(read.result)
    if ctx.negative is not None:
        kind = ctx.negative.get("kind", "broken")
        yield Violation(
            f"{client} returned a final message (stop_reason {got.raw_finish!r}) from a stream whose upstream broke ({kind}) without raising; an error must reach it as event: error",
            "an exception",
            got.raw_finish,
        )
        return
    expect = ctx.expect or {}
    checks = [
        ("text", str(expect.get("text", "")) + str(expect.get("refusal", "")), got.text),
        ("thinking", expected_reasoning(ctx, got.thinking), got.thinking),
        ("signatures", expected_signatures(ctx, got.signatures), got.signatures),
        (
            "tool_use blocks",
            [{"name": c["name"], "arguments": object_arguments(c["arguments"])} for c in expect.get("tool_calls", [])],
            got.tool_calls,
        ),
        ("stop reason", expect.get("finish"), got.finish),
    ]
    for what, expected, actual in checks:
        if expected != actual:
            said = differs(client, what, expected, actual)
            if what == "text" and expected and actual == "":
                said += f"; the text is silently empty (content blocks the client kept: {got.block_types})"
            yield Violation(said, expected, actual)
