"""The neutral message: what a stream says, whatever wire protocol carried it.

Each protocol's assembler turns a stream into one of these, so that a capture's `expect` and a
target's output can be compared across protocols. Finish reasons are mapped to the neutral names of
corpus/README.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.usage import details, reasoning_included

__all__ = [
    "ToolCall",
    "Message",
    "anthropic_usage",
    "client_finish",
    "loads",
    "neutral_finish",
    "openai_usage",
    "parse_arguments",
]

# A turn that called client tools is a tool turn even when the provider said "stop":
# OpenAI answers a forced tool_choice with finish_reason "stop" (recorded from gpt-4o-mini, 2026-05).
_TOOL_TURN_EQUIVALENTS = frozenset({"stop", "tool_calls"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: Any
    """Parsed JSON arguments, or the raw string when it does not parse."""
    arguments_valid: bool = True
    raw_arguments: str = ""
    """The arguments as streamed, concatenated: `""` where nothing was streamed."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(slots=True)
class Message:
    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    """Opaque reasoning tokens a client must pass back verbatim on its next turn for the model to
    keep its reasoning, in order: Anthropic thinking signatures, and the `encrypted_content` of
    OpenAI Responses reasoning items."""
    finish: str | None = None
    native_finish: str | None = None
    """The finish exactly as the stream said it (OpenAI finish_reason, Anthropic stop_reason) when
    it says more than the protocol's usual value for `finish` (stop_sequence rather than end_turn,
    function_call rather than tool_calls); None otherwise."""
    usage: dict[str, Any] | None = None
    """The neutral counts (`openai_usage`, `anthropic_usage`): `input_tokens` (all input, cached
    included), `output_tokens`, and `cached_input_tokens` and `reasoning_tokens` when reported."""
    error: dict[str, Any] | None = None
    """The error the stream reported in its own protocol, if any."""
    done: bool = False
    """Whether the stream ended with its protocol's clean terminator ([DONE] or message_stop)."""
    choices: dict[int, Message] = field(default_factory=dict)
    """The choices after the first of an n > 1 stream, by index (OpenAI only)."""
    server_tools: list[dict[str, Any]] = field(default_factory=list)
    """Blocks of tools the server ran (Anthropic only), as `expect.server_tools` lists them."""
    citations: list[dict[str, Any]] = field(default_factory=list)
    """Citations in order (Anthropic only)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "signatures": list(self.signatures),
            "finish": self.finish,
            "native_finish": self.native_finish,
            "usage": self.usage,
            "error": self.error,
            "done": self.done,
            "choices": {str(index): choice.to_json() for index, choice in self.choices.items()},
            "server_tools": list(self.server_tools),
            "citations": list(self.citations),
        }

    def expect(self, *, broken: bool = False) -> dict[str, Any]:
        """What a capture whose raw stream assembles to this message lists in `expect`
        (corpus/README.md). `broken`: the stream itself is broken, so an unfinished tool call is
        given by the argument text that arrived."""
        expect: dict[str, Any] = {
            "text": self.text,
            "reasoning": self.reasoning,
            "refusal": self.refusal,
            "tool_calls": [_expected_call(call, broken) for call in self.tool_calls],
            "signatures": list(self.signatures),
            "finish": self.finish,
        }
        if self.native_finish is not None:
            expect["native_finish"] = self.native_finish
        if self.usage is not None:
            expect["usage"] = dict(self.usage)
        if self.choices:
            expect["choices"] = [
                {"index": index, **_choice_expect(choice.expect(broken=broken))}
                for index, choice in sorted(self.choices.items())
            ]
        if self.server_tools:
            expect["server_tools"] = list(self.server_tools)
        if self.citations:
            expect["citations"] = list(self.citations)
        error = {
            key: value
            for key, value in (self.error or {}).items()
            if key in _ERROR_FIELDS and _ERROR_FIELDS[key](value)
        }
        if error:
            expect["error"] = error
        return expect


# The error fields `expect.error` keeps, as the capture schema types them: a null type or message
# (a frame that gave none) is left out; a code is kept as given, OpenRouter's numbers and null too.
_ERROR_FIELDS = {
    "type": lambda value: isinstance(value, str),
    "message": lambda value: isinstance(value, str),
    "code": lambda value: value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)),
}


def _expected_call(call: ToolCall, broken: bool) -> dict[str, Any]:
    if broken and not call.arguments_valid:
        return {"id": call.id, "name": call.name, "arguments_prefix": call.raw_arguments}
    return call.to_json()


def _choice_expect(expect: dict[str, Any]) -> dict[str, Any]:
    kept = {"text": expect["text"], "finish": expect["finish"]}
    kept.update((key, expect[key]) for key in ("refusal", "reasoning", "tool_calls") if expect[key])
    return kept


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} overflows a double")
    return value


# Built once: `json.loads` with hooks builds a new decoder per call, which costs about as much as
# decoding a whole chunk.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _fast_decoder() -> Callable[[str], Any] | None:
    """msgspec's JSON decoder, about 3x the standard library's on stream payloads (bench/RESULTS.md),
    or None when it is not installed. It accepts a subset of what `_strict` accepts, with the same
    values (ints exact at any size, floats correctly rounded, the last of duplicate keys, NaN,
    Infinity and overflowing numbers rejected), and rejects what `_strict` may still accept: lone
    surrogates, nesting past its depth limit; tests/test_neutral_loads.py holds it to that."""
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec.json.Decoder().decode


_FAST = _fast_decoder()


def loads(text: str | bytes) -> Any:
    """Strict JSON (RFC 8259): NaN and Infinity, which Python's json accepts, and numbers that overflow
    to them raise ValueError, so verdicts and reports stay strict JSON; so does nesting too deep for
    the parser (a RecursionError), so a hostile stream gives a verdict, not an exception."""
    if _FAST is not None and type(text) is str:
        try:
            return _FAST(text)
        except (ValueError, RecursionError):
            pass  # the standard library decides, and words the error
    return _strict(text)


def _strict(text: str | bytes) -> Any:
    """`loads` by the standard library alone: what the fast decoder must agree with."""
    try:
        if isinstance(text, str) and not text.startswith("\ufeff"):
            return _DECODER.decode(text)
        # bytes, and the BOM that json.loads rejects with its own message
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def parse_arguments(raw: str) -> tuple[Any, bool]:
    """Concatenated tool arguments as JSON; an empty string means no arguments, i.e. {}."""
    if raw.strip() == "":
        return {}, True
    try:
        return loads(raw), True
    except ValueError:
        return raw, False


def object_arguments(arguments: Any) -> Any:
    """A tool call's arguments as a client whose tool input must be a JSON object (Anthropic's
    `tool_use.input`) receives them: a Responses custom tool's free-form input, which is text, not
    JSON, as `{"input": <the text>}`, the one faithful object that holds it; anything else as it is."""
    return {"input": arguments} if isinstance(arguments, str) else arguments


def neutral_finish(finish: str | None, has_tool_calls: bool) -> str | None:
    if has_tool_calls and finish in _TOOL_TURN_EQUIVALENTS:
        return "tool_calls"
    return finish


def client_finish(finish: str | None, *, openai: bool) -> str | None:
    """The neutral finish a client of the protocol can receive: OpenAI has no pause_turn, so an
    OpenAI client of a paused Anthropic turn gets stop, the only finish it can act on."""
    return "stop" if openai and finish == "pause_turn" else finish


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """OpenAI `CompletionUsage` in neutral terms. `prompt_tokens` already counts the cached input
    (`prompt_tokens_details.cached_tokens`; DeepSeek's `prompt_cache_hit_tokens`), and
    `completion_tokens` the reasoning (`completion_tokens_details.reasoning_tokens`)."""
    neutral: dict[str, Any] = {
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": reasoning_included(usage),
    }
    cached = details(usage, "prompt_tokens_details").get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    if cached is not None:
        neutral["cached_input_tokens"] = cached
    written = details(usage, "prompt_tokens_details").get("cache_write_tokens")
    if written is not None:
        neutral["cache_creation_input_tokens"] = written
    reasoning = details(usage, "completion_tokens_details").get("reasoning_tokens")
    if reasoning is not None:
        neutral["reasoning_tokens"] = reasoning
    return neutral


def anthropic_usage(counts: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage (the latest value of each count) in neutral terms: `input_tokens` counts only
    the input after the last cache breakpoint, and the cache reads and writes are reported beside
    it, so the total input is their sum."""
    parts = [counts.get(name) for name in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
    total = sum(part for part in parts if isinstance(part, int)) if isinstance(parts[0], int) else parts[0]
    neutral: dict[str, Any] = {"input_tokens": total, "output_tokens": counts.get("output_tokens")}
    if counts.get("cache_read_input_tokens") is not None:
        neutral["cached_input_tokens"] = counts["cache_read_input_tokens"]
    if counts.get("cache_creation_input_tokens") is not None:
        neutral["cache_creation_input_tokens"] = counts["cache_creation_input_tokens"]
    return neutral
