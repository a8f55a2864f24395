"""Semantic preservation: the assembled output against the capture's `expect`, in any protocol.

These invariants apply only when a stream is checked against a capture (`ctx.expect` is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.protocols import ANTHROPIC_MESSAGES
from conformance.stream import Context

__all__ = ["first_difference", "truncate"]


def _compared(ctx: Context) -> bool:
    return ctx.expect is not None


def _positive(ctx: Context) -> bool:
    return ctx.expect is not None and ctx.negative is None


def truncate(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def first_difference(expected: str, actual: str) -> str:
    for position, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return f"first difference at character {position}: expected {expected[position : position + 20]!r}, got {actual[position : position + 20]!r}"
    return f"one is a prefix of the other: expected {len(expected)} characters, got {len(actual)}"


def _compare_text(name: str, expected: str, actual: str) -> Iterator[Violation]:
    if expected != actual:
        yield Violation(f"{name} differs; {first_difference(expected, actual)}", truncate(expected), truncate(actual))


@invariant(
    "semantic.text",
    impact="breaks",
    hint="",
    applies=_compared,
    evidence=[
        "WIRE-FACTS §10 (a proxy re-encodes, it never rewrites content); #7 (first text_delta after thinking dropped), #32, #33 (framing and UTF-8 splits corrupting text)"
    ],
)
def text_preserved(ctx: Context) -> Iterator[Violation]:
    """The output's text, with any refusal text, equals the capture's, character for character."""
    expect = ctx.expect or {}
    expected = str(expect.get("text", "")) + str(expect.get("refusal", ""))
    yield from _compare_text("text", expected, ctx.message.text + ctx.message.refusal)


@invariant(
    "semantic.reasoning",
    impact="breaks",
    hint="",
    applies=_compared,
    evidence=[
        "§3 (each provider's reasoning field); O8 (stream and non-stream carry the same reasoning); #1-#4 (reasoning lost only when streaming)"
    ],
)
def reasoning_preserved(ctx: Context) -> Iterator[Violation]:
    """The output carries the capture's reasoning exactly once, in full."""
    yield from _compare_text("reasoning", str((ctx.expect or {}).get("reasoning", "")), ctx.message.reasoning)


@invariant(
    "semantic.tool-calls",
    impact="breaks",
    hint="",
    applies=_compared,
    evidence=[
        "§2.3, §5.1 (tool name and arguments as one JSON object); #11-#18 (merged, dropped or corrupted tool calls)"
    ],
)
def tool_calls_preserved(ctx: Context) -> Iterator[Violation]:
    """The output makes the capture's tool calls in order, with the same names and the same parsed arguments."""
    expected = [(call["name"], call["arguments"]) for call in (ctx.expect or {}).get("tool_calls", [])]
    actual = [(call.name, call.arguments) for call in ctx.message.tool_calls]
    if expected != actual:
        yield Violation(
            "tool calls differ",
            [{"name": n, "arguments": a} for n, a in expected],
            [{"name": n, "arguments": a} for n, a in actual],
        )


@invariant(
    "semantic.tool-call-ids",
    impact="strict",
    hint="",
    applies=_compared,
    evidence=[
        "§2.3, §5.2 (the id links a tool call to its result); a proxy that rewrites ids must map them back, which the stream alone cannot show"
    ],
)
def tool_call_ids_preserved(ctx: Context) -> Iterator[Violation]:
    """The output keeps the upstream's tool-call ids."""
    expected = [call["id"] for call in (ctx.expect or {}).get("tool_calls", [])]
    actual = [call.id for call in ctx.message.tool_calls]
    if len(expected) == len(actual) and expected != actual:
        yield Violation("tool call ids were rewritten", expected, actual)


@invariant(
    "semantic.finish",
    impact="breaks",
    hint="",
    applies=_positive,
    evidence=[
        "corpus/README.md neutral finish table; O6, A9 (tool_calls ↔ tool_use, stop ↔ end_turn, length ↔ max_tokens); #9, #10 (tool turns reported as end_turn)"
    ],
)
def finish_preserved(ctx: Context) -> Iterator[Violation]:
    """The output finishes for the same reason as the capture, mapped between protocols."""
    expected = (ctx.expect or {}).get("finish")
    if ctx.message.finish != expected:
        yield Violation("finish reason differs", expected, ctx.message.finish)


def _usage_compared(ctx: Context) -> bool:
    return _compared(ctx) and ctx.negative is None and ctx.usage_requested and bool((ctx.expect or {}).get("usage"))


@invariant(
    "semantic.usage",
    impact="breaks",
    hint="",
    applies=_usage_compared,
    evidence=[
        "§2.2 (usage covers the whole request); §5.4 (message_delta usage is cumulative); #2, #25, #26 (usage lost, zeroed or overwritten)"
    ],
)
def usage_preserved(ctx: Context) -> Iterator[Violation]:
    """When the client asked for usage, the output reports the capture's input and output token counts."""
    expected: dict[str, Any] = dict((ctx.expect or {})["usage"])
    if ctx.message.usage is None:
        yield Violation("usage was lost", expected, None)
    elif ctx.message.usage != expected:
        yield Violation("usage differs", expected, ctx.message.usage)


@invariant(
    "semantic.signatures",
    impact="breaks",
    hint="",
    protocol=ANTHROPIC_MESSAGES,
    applies=_compared,
    evidence=[
        "§5.3 rule 4; X2 (signatures byte-identical on replay); #29, #30 (dropped, empty or fabricated signatures: 'Invalid signature in thinking block')"
    ],
)
def signatures_preserved(ctx: Context) -> Iterator[Violation]:
    """Thinking signatures reach an Anthropic client byte for byte, and none is invented."""
    expected = list((ctx.expect or {}).get("signatures", []))
    if ctx.message.signatures != expected:
        yield Violation(
            "thinking signatures differ",
            [truncate(s, 40) for s in expected],
            [truncate(s, 40) for s in ctx.message.signatures],
        )


@invariant(
    "semantic.clean-finish",
    impact="breaks",
    judges_silence=True,
    hint="",
    applies=_positive,
    evidence=[
        "§2.1, §5.1 (a complete stream ends with [DONE] or message_stop); #28 (a stream with no terminal event truncates silently)"
    ],
)
def clean_finish(ctx: Context) -> Iterator[Violation]:
    """A capture that completed upstream completes at the client: no error, and the protocol's terminator."""
    if ctx.message.error is not None:
        yield Violation(
            "the output reports an error for a stream that completed upstream", "no error", ctx.message.error
        )
    elif not ctx.message.done:
        yield Violation("the output never terminates cleanly", "[DONE] or message_stop", "EOF")


def _negative(ctx: Context) -> bool:
    return ctx.expect is not None and ctx.negative is not None


@invariant(
    "semantic.error-surfaced",
    impact="breaks",
    judges_silence=True,
    hint="",
    applies=_negative,
    evidence=[
        "§8 (errors in each protocol: an error frame or event, then EOF); X1; #28 (a cut-off reported as a clean finish hides the failure)"
    ],
)
def error_surfaced(ctx: Context) -> Iterator[Violation]:
    """When the upstream stream broke, the client receives an error in its own protocol and no clean finish."""
    message = ctx.message
    kind = (ctx.negative or {}).get("kind", "broken")
    if message.error is None:
        yield Violation(
            f"upstream {kind} did not reach the client as an error", "an error frame or error event", "no error"
        )
    if message.done or message.finish is not None:
        yield Violation(
            f"upstream {kind} reported as a clean finish",
            "no finish and no terminator",
            {"finish": message.finish, "terminated": message.done},
        )
