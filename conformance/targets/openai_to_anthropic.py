"""Route openai-chat -> anthropic-messages: serve Anthropic Messages events to the client from an
OpenAI-compatible upstream, in the shape every `anthropic.*` invariant states."""

from __future__ import annotations

import json
from typing import Any

from conformance.sse import Event
from conformance.targets._openai import ToolCallTracker, chunk_error, error_message, kept_usage, take_reasoning
from conformance.targets._requests import anthropic_to_openai_request
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import anthropic_error, anthropic_error_type, anthropic_event, anthropic_message_start
from conformance.usage import reasoning_included

__all__ = ["STOP_REASONS", "OpenAIToAnthropic", "anthropic_usage"]

# OpenAI finish_reason -> Anthropic stop_reason (corpus/README.md, neutral finish table).
# tool_use is never derived from here: OpenAI says "stop" for a forced tool choice.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}
_EXCERPT = 200


class OpenAIToAnthropic(RouteStream):
    upstream_path = "/v1/chat/completions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._id = ""
        self._model = ""
        self._started = False  # message_start written
        self._finished = False  # upstream choice 0 gave its finish_reason
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._next_index = 0  # index of the next content block
        self._open: str | None = None  # type of the open block: thinking | text | tool_use
        self._open_call: int | None = None  # the tool call the open tool_use block holds
        self._tools = ToolCallTracker()
        self._tool_blocks = 0

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        return anthropic_to_openai_request(self.request)

    def reasoning(self, delta: dict[str, Any]) -> str:
        """Take every reasoning dialect out of `delta`; return the text."""
        return take_reasoning(delta)

    def start_message(self) -> list[bytes]:
        """`message_start`. The real input count is unknown until the upstream's usage arrives at
        the end, so it is 0 here and reported cumulatively in message_delta."""
        model = self._model or str(self.request.get("model") or "unknown")
        return [anthropic_message_start(self._id or "unknown", model, {"input_tokens": 0, "output_tokens": 0})]

    def terminate(self) -> list[bytes]:
        """The single message_delta, then message_stop."""
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": None},
            "usage": anthropic_usage(self._usage or {}),
        }
        return [anthropic_event(delta), anthropic_event({"type": "message_stop"})]

    def stop_reason(self) -> str:
        if self._tool_blocks:
            return "tool_use"  # whatever finish_reason said (anthropic.stop-reason.tool-use)
        return STOP_REASONS.get(self._finish or "stop", "end_turn")

    def on_cut_off(self) -> list[bytes]:
        # No [DONE]: the upstream was cut off; a clean message_stop would hide that.
        return [anthropic_error("api_error", "upstream closed the stream before data: [DONE]")]

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        if event.data.startswith("[DONE]"):
            self.done = True
            return self._ensure_started() + self.close_block() + self.terminate()
        try:
            chunk = json.loads(event.data)
        except ValueError:
            return self._fail("api_error", f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}")
        if not isinstance(chunk, dict):
            return self._fail("api_error", f"upstream sent a JSON value that is not a chunk: {event.data[:_EXCERPT]!r}")
        error = chunk_error(chunk)
        if error is not None:
            message = error_message(error, _EXCERPT)
            return self._fail(anthropic_error_type(None, error.get("type") or error.get("code")), message)
        if not self._id and isinstance(chunk.get("id"), str):
            self._id = chunk["id"]
        if not self._model and isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        self._usage = kept_usage(self._usage, chunk)
        out: list[bytes] = []
        for choice in chunk.get("choices") or ():
            # Anthropic has one message per stream: only choice 0 is representable.
            if isinstance(choice, dict) and choice.get("index", 0) == 0 and not self._finished:
                out += self._choice(choice)
                if self.done:
                    break
        return out

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        error = failure.error or {}
        return self._fail(anthropic_error_type(failure.status, error.get("type") or error.get("code")), failure.message)

    def _fail(self, type_: str, message: str) -> list[bytes]:
        # After an error nothing is closed or finished: `event: error`, then EOF, as Anthropic does.
        self.done = True
        return [anthropic_error(type_, message)]

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        delta = dict(choice.get("delta") or {})
        out: list[bytes] = []
        # Order within one delta: reasoning, then text, then tool calls, so content that shares a
        # delta with a tool call is not lost.
        reasoning = self.reasoning(delta)
        if reasoning:
            out += self._ensure_block("thinking")
            out.append(self._delta({"type": "thinking_delta", "thinking": reasoning}))
        for key in ("content", "refusal"):
            # Anthropic streams a refusal as text; an empty string opens no block.
            text = delta.get(key)
            if isinstance(text, str) and text:
                out += self._ensure_block("text")
                out.append(self._delta({"type": "text_delta", "text": text}))
        calls = list(delta.get("tool_calls") or ())
        if isinstance(delta.get("function_call"), dict):
            # The deprecated function_call is one tool call with no id (a tool_use block needs one).
            calls.append({"index": -1, "function": delta["function_call"]})
        for call in calls:
            if isinstance(call, dict):
                out += self._tool_call(call)
                if self.done:
                    return out
        if choice.get("finish_reason") is not None:
            self._finished = True
            self._finish = choice["finish_reason"]
            out += self.close_block()
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        number, first = self._tools.locate(call)
        function = call.get("function") or {}
        out: list[bytes] = []
        if first:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{self._id or 'unknown'}_{number}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._ensure_started() + self.close_block() + self.start_block(block)
            self._open_call = number
            self._tool_blocks += 1
        elif self._open != "tool_use" or self._open_call != number:
            # Blocks cannot interleave, so fragments of an earlier call cannot be placed.
            return out + self._fail("api_error", "upstream interleaved the arguments of two tool calls")
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

    def _ensure_started(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return self.start_message()

    def _ensure_block(self, kind: str) -> list[bytes]:
        out = self._ensure_started()
        if self._open == kind:
            return out
        block: dict[str, Any] = {"type": "text", "text": ""}
        if kind == "thinking":
            # Signature left empty: an OpenAI upstream has none, and inventing one breaks the next
            # turn. No signature_delta follows.
            block = {"type": "thinking", "thinking": "", "signature": ""}
        return out + self.close_block() + self.start_block(block)

    def start_block(self, block: dict[str, Any]) -> list[bytes]:
        self._open = block["type"]
        self._open_call = None
        start = {"type": "content_block_start", "index": self._next_index, "content_block": block}
        self._next_index += 1
        return [anthropic_event(start)]

    def close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        self._open_call = None
        return [anthropic_event({"type": "content_block_stop", "index": self._next_index - 1})]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return anthropic_event({"type": "content_block_delta", "index": self._next_index - 1, "delta": delta})


def anthropic_usage(usage: dict[str, Any]) -> dict[str, int]:
    """OpenAI usage as Anthropic counts it. OpenAI's `prompt_tokens` includes the input served
    from the cache (`prompt_tokens_details.cached_tokens`; DeepSeek's `prompt_cache_hit_tokens`,
    with `prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens`), where Anthropic's
    `input_tokens` leaves it out and reports it beside, as `cache_read_input_tokens` (OpenAI and
    Anthropic prompt-caching guides, DeepSeek context-caching docs). So input = prompt - cached,
    and the cache read is reported only when the upstream reported one; so is the input written to
    the cache (`prompt_tokens_details.cache_write_tokens`), Anthropic's `cache_creation_input_tokens`."""
    cached = _cached(usage)
    details = usage.get("prompt_tokens_details")
    written = (details if isinstance(details, dict) else {}).get("cache_write_tokens")
    written = written if isinstance(written, int) and written >= 0 else None
    counts = {"input_tokens": max(_count(usage.get("prompt_tokens")) - (cached or 0) - (written or 0), 0)}
    if cached is not None:
        counts["cache_read_input_tokens"] = cached
    if written is not None:
        counts["cache_creation_input_tokens"] = written
    counts["output_tokens"] = _count(reasoning_included(usage))
    return counts


def _cached(usage: dict[str, Any]) -> int | None:
    details = usage.get("prompt_tokens_details")
    # DeepSeek's own count only when there is no OpenAI one (it sometimes sends both, equal).
    cached = (details if isinstance(details, dict) else {}).get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    return cached if isinstance(cached, int) and cached >= 0 else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
