"""Route anthropic-messages -> openai-chat: serve OpenAI chunks to the client from an Anthropic
Messages upstream, in the shape every `openai.*` invariant states."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from conformance.sse import Event
from conformance.targets._requests import openai_to_anthropic_request
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import DONE, chat_envelope, openai_chunk, openai_error

__all__ = ["FINISH_REASONS", "AnthropicToOpenAI", "ToolBlock"]

# Anthropic stop_reason -> OpenAI finish_reason (corpus/README.md, neutral finish table).
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",  # OpenAI has no pause; the turn did end for this request
}
_EXCERPT = 200


@dataclass(slots=True)
class ToolBlock:
    """A client tool_use block being streamed as OpenAI tool call number `number`."""

    number: int
    start_input: Any
    fragments: int = 0  # non-empty argument fragments written so far


class AnthropicToOpenAI(RouteStream):
    upstream_path = "/v1/messages"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.request.get("stream_options") or {}
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._created = int(time.time())
        self._id = ""
        self._model = ""
        self._opened = False  # the role chunk went out
        self._finished = False  # the finish chunk went out
        self._blocks: dict[Any, str] = {}  # block index -> block type
        self._tools: dict[Any, ToolBlock] = {}  # block index -> tool call
        self._input_tokens = 0
        self._output_tokens = 0
        # None until the upstream reports them: only a reported cache read becomes cached_tokens.
        self._cache_read: int | None = None
        self._cache_creation: int | None = None

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        return openai_to_anthropic_request(self.request)

    def argument_fragment(self, tool: ToolBlock, partial_json: str) -> str:
        """The arguments fragment an input_json_delta becomes; "" writes nothing (the first delta
        of a tool block is always `""` in recorded streams)."""
        return partial_json

    def arguments_at_stop(self, tool: ToolBlock) -> str:
        """Arguments still owed when a tool block stops: its start `input`, when that was filled
        in and no delta came (Kimi, code-execution callers), or `{}` for a tool with no
        arguments, as OpenAI sends it (its users `json.loads` the arguments; `""` fails). Never
        `{}` prefixed to deltas (envoyproxy/ai-gateway#1465)."""
        if tool.fragments == 0 and isinstance(tool.start_input, dict) and tool.start_input:
            return json.dumps(tool.start_input, ensure_ascii=False)
        return "{}" if tool.fragments == 0 else ""

    def on_cut_off(self) -> list[bytes]:
        # No message_stop: the upstream was cut off; [DONE] would hide that.
        return [openai_error("upstream closed the stream before message_stop", "upstream_cut_off")]

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        try:
            payload = json.loads(event.data)
        except ValueError:
            return self._fail(f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}", "upstream_error")
        if not isinstance(payload, dict):
            return self._fail(
                f"upstream sent a JSON value that is not an event: {event.data[:_EXCERPT]!r}", "upstream_error"
            )
        # The Anthropic SDK dispatches on the event name; the JSON type is the fallback for
        # an event sent without one.
        kind = event.type if event.type != "message" else payload.get("type")
        handlers = {
            "error": self._on_error,
            "message_start": self._on_message_start,
            "content_block_start": self._on_content_block_start,
            "content_block_delta": self._on_content_block_delta,
            "content_block_stop": self._on_content_block_stop,
            "message_delta": self._on_message_delta,
            "message_stop": self._on_message_stop,
        }
        handler = handlers.get(str(kind))
        return handler(payload) if handler is not None else []  # ping, unknown: ignored, as documented

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        error = failure.error or {}
        type_ = error.get("type")
        return self._fail(failure.message, type_ if isinstance(type_, str) else "upstream_error", failure.status)

    def _fail(self, message: str, type_: str, code: Any = None) -> list[bytes]:
        self.done = True
        return [openai_error(message, type_, code)]

    def _on_error(self, payload: dict[str, Any]) -> list[bytes]:
        error = payload.get("error")
        error = error if isinstance(error, dict) else {}
        message, type_ = error.get("message"), error.get("type")
        return self._fail(
            message if isinstance(message, str) and message else "upstream sent an error event",
            type_ if isinstance(type_, str) else "api_error",
        )

    def _on_message_start(self, payload: dict[str, Any]) -> list[bytes]:
        message = payload.get("message") or {}
        self._id = str(message.get("id") or "")
        self._model = str(message.get("model") or "")
        self._take_usage(message.get("usage") or {})
        return self._open()

    def _on_content_block_start(self, payload: dict[str, Any]) -> list[bytes]:
        index = payload.get("index")
        block = payload.get("content_block") or {}
        kind = str(block.get("type"))
        self._blocks[index] = kind
        if kind == "text":
            return self._content(block.get("text"))
        if kind == "thinking":
            return self._reasoning(block.get("thinking"))
        if kind != "tool_use":
            # server_tool_use, *_tool_result, redacted_thinking, …: not representable in OpenAI
            # chat, and not the client's to execute.
            return []
        tool = ToolBlock(number=len(self._tools), start_input=block.get("input"))
        self._tools[index] = tool
        call = {
            "index": tool.number,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        return self._open() + [self._chunk({"tool_calls": [call]})]

    def _on_content_block_delta(self, payload: dict[str, Any]) -> list[bytes]:
        index = payload.get("index")
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        block = self._blocks.get(index)
        if kind == "text_delta" and block == "text":
            return self._content(delta.get("text"))
        if kind == "thinking_delta" and block == "thinking":
            return self._reasoning(delta.get("thinking"))
        if kind == "input_json_delta" and index in self._tools:
            tool = self._tools[index]
            fragment = self.argument_fragment(tool, str(delta.get("partial_json") or ""))
            return self._arguments(tool, fragment)
        return []  # signature_delta, citations_delta, server-tool input: no OpenAI field

    def _on_content_block_stop(self, payload: dict[str, Any]) -> list[bytes]:
        tool = self._tools.get(payload.get("index"))
        return self._arguments(tool, self.arguments_at_stop(tool)) if tool is not None else []

    def _on_message_delta(self, payload: dict[str, Any]) -> list[bytes]:
        # Cumulative counts: replace, never add; input and cache counts only when present.
        self._take_usage(payload.get("usage") or {})
        stop_reason = (payload.get("delta") or {}).get("stop_reason")
        return self._finish(FINISH_REASONS.get(stop_reason, "stop")) if stop_reason else []

    def _on_message_stop(self, payload: dict[str, Any]) -> list[bytes]:
        self.done = True
        out = self._finish("stop")
        if self.include_usage:
            out.append(openai_chunk(self._envelope(choices=[], usage=self.usage())))
        return out + [DONE]

    def _take_usage(self, usage: dict[str, Any]) -> None:
        """The latest value of each count: message_delta's replace message_start's when present."""
        self._input_tokens = _count(usage.get("input_tokens"), self._input_tokens)
        self._output_tokens = _count(usage.get("output_tokens"), self._output_tokens)
        self._cache_read = _reported(usage.get("cache_read_input_tokens"), self._cache_read)
        self._cache_creation = _reported(usage.get("cache_creation_input_tokens"), self._cache_creation)

    def usage(self) -> dict[str, Any]:
        """The usage chunk's counts. Anthropic's `input_tokens` leaves out the input read from and
        written to the cache, reported beside it; OpenAI's `prompt_tokens` is the whole input, of
        which `prompt_tokens_details.cached_tokens` came from the cache and `cache_write_tokens` was
        written to it (Anthropic and OpenAI prompt-caching guides; OpenAI's `CompletionUsage`)."""
        prompt = self._input_tokens + (self._cache_read or 0) + (self._cache_creation or 0)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": self._output_tokens,
            "total_tokens": prompt + self._output_tokens,
        }
        details = {}
        if self._cache_read is not None:
            details["cached_tokens"] = self._cache_read
        if self._cache_creation is not None:
            details["cache_write_tokens"] = self._cache_creation
        if details:
            usage["prompt_tokens_details"] = details
        return usage

    def _open(self) -> list[bytes]:
        """The first chunk, which alone carries the role, as OpenAI sends it."""
        if self._opened:
            return []
        self._opened = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _finish(self, reason: str) -> list[bytes]:
        if self._finished:
            return []  # one finish chunk per choice (openai.finish.once)
        self._finished = True
        return self._open() + [self._chunk({}, reason)]

    def _content(self, text: Any) -> list[bytes]:
        if not isinstance(text, str) or not text:
            return []
        return self._open() + [self._chunk({"content": text})]

    def _reasoning(self, text: Any) -> list[bytes]:
        if not isinstance(text, str) or not text:
            return []
        return self._open() + [self._chunk({"reasoning_content": text})]

    def _arguments(self, tool: ToolBlock, fragment: str) -> list[bytes]:
        if not fragment:
            return []
        tool.fragments += 1
        return [self._chunk({"tool_calls": [{"index": tool.number, "function": {"arguments": fragment}}]})]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return openai_chunk(self._envelope(choices=[choice]))

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        model = self._model or str(self.request.get("model") or "unknown")
        return chat_envelope(self._id or "unknown", self._created, model, **fields)


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and value >= 0 else default


def _reported(value: Any, previous: int | None) -> int | None:
    return value if isinstance(value, int) and value >= 0 else previous
