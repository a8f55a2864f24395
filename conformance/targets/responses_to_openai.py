"""Route openai-responses -> openai-chat: serve OpenAI chat chunks to the client from an OpenAI
Responses upstream, in the shape every `openai.*` invariant states.

The role goes out once, at `response.created`. Then each delta becomes one chunk: text as
`content`, a refusal as `refusal`, reasoning (summary or raw reasoning text) as
`reasoning_content`, and each client tool call as a `tool_calls` entry numbered 0, 1, … in order,
whose first delta carries its id and name and the rest only argument fragments. The terminal event
becomes the one finish chunk, then the usage chunk (when the client asked for it) and `[DONE]`. An
`error` event, `response.failed`, an event that is not JSON and an upstream that stops before its
terminal event end the stream with the in-stream error frame and no `[DONE]`.

What chat has no field for is left out: the items of tools the server ran (`web_search_call` and
the like: already executed, never the client's to call), and the `url_citation` annotations of
the text (a chat delta has no `annotations` an OpenAI client reads; the links themselves are in the
text).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.sse import Event
from conformance.targets._responses_requests import openai_to_responses_request
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import DONE, chat_envelope, openai_chunk, openai_error
from conformance.usage import details

__all__ = ["INCOMPLETE_FINISH", "ResponsesToOpenAI", "chat_usage"]

# Responses `incomplete_details.reason` -> OpenAI finish_reason.
INCOMPLETE_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}
# Client tool calls, and the field their input streams into. A custom tool call becomes a function
# tool call whose arguments are its free-form input, unchanged: a chat stream has no other kind of
# tool call (the chunk's tool call `type` is only "function" in the OpenAPI spec and in
# openai-python's ChoiceDeltaToolCall), and the input is what the client's custom tool takes.
_CALLS = {"function_call": "arguments", "custom_tool_call": "input"}
_EXCERPT = 200


@dataclass(slots=True)
class _Call:
    """A client tool call being streamed as OpenAI tool call number `number`."""

    number: int
    kind: str
    fragments: list[str] = field(default_factory=list)


class ResponsesToOpenAI(RouteStream):
    upstream_path = "/v1/responses"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.request.get("stream_options") or {}
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._created = int(time.time())
        self._id = ""
        self._model = ""
        self._opened = False  # the role chunk went out
        self._calls: dict[Any, _Call] = {}  # output_index -> tool call
        # The text each part has streamed, by (part kind, output_index, index): a `.done` event or
        # a done item whose text goes further (an upstream that sent it whole) adds the rest.
        self._streamed: dict[tuple[str, Any, Any], list[str]] = {}
        # Reasoning items: which of summary or raw reasoning text each streams. Both say the same
        # reasoning, so the first to arrive is kept and the other dropped, never both.
        self._reasoning_kind: dict[Any, str] = {}
        self._handlers = self._by_type()

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        return openai_to_responses_request(self.request)

    def finish_reason(self, terminal: str, response: dict[str, Any]) -> str:
        """The finish of a `response.completed` or `response.incomplete`: tool_calls whenever the
        turn called tools (a Responses turn has no finish of its own to say so)."""
        if terminal == "response.incomplete":
            reason = (response.get("incomplete_details") or {}).get("reason")
            return INCOMPLETE_FINISH.get(reason, "length")
        return "tool_calls" if self._calls else "stop"

    def on_cut_off(self) -> list[bytes]:
        # No terminal event: the upstream was cut off; [DONE] would hide that.
        return self._fail("upstream closed the stream before its terminal event", "upstream_cut_off")

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        if event.data.startswith("[DONE]"):
            # An Open Responses upstream ends with [DONE] after its terminal event, where this
            # stream is already done; before it, [DONE] ends a stream that never finished.
            return self._fail("upstream sent data: [DONE] before its terminal event", "upstream_cut_off")
        try:
            payload = json.loads(event.data)
        except ValueError:
            return self._fail(f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}", "upstream_error")
        if not isinstance(payload, dict):
            return self._fail(
                f"upstream sent a JSON value that is not an event: {event.data[:_EXCERPT]!r}", "upstream_error"
            )
        kind = event.type if event.type != "message" else payload.get("type")
        handler = self._handlers.get(str(kind))
        return handler(payload) if handler is not None else []

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        error = failure.error or {}
        type_ = error.get("type")
        return self._fail(failure.message, type_ if isinstance(type_, str) else "upstream_error", failure.status)

    def _fail(self, message: str, type_: str, code: Any = None) -> list[bytes]:
        self.done = True
        return [openai_error(message, type_, code)]

    def _by_type(self) -> dict[str, Callable[[dict[str, Any]], list[bytes]]]:
        """The handler of each event type; any other event (web search progress, annotations,
        part and summary part boundaries) says nothing a chat client has a field for."""
        return {
            "response.created": self._on_response,
            "response.in_progress": self._on_response,
            "response.queued": self._on_response,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.output_text.delta": lambda p: self._text(p, "content", self._content, p.get("delta")),
            "response.output_text.done": lambda p: self._text(p, "content", self._content, p.get("text"), True),
            "response.refusal.delta": lambda p: self._text(p, "content", self._refusal, p.get("delta")),
            "response.refusal.done": lambda p: self._text(p, "content", self._refusal, p.get("refusal"), True),
            "response.reasoning_summary_text.delta": lambda p: self._thought(p, "summary", p.get("delta")),
            "response.reasoning_summary_text.done": lambda p: self._thought(p, "summary", p.get("text"), True),
            "response.reasoning_text.delta": lambda p: self._thought(p, "content", p.get("delta")),
            "response.reasoning_text.done": lambda p: self._thought(p, "content", p.get("text"), True),
            "response.function_call_arguments.delta": lambda p: self._input(p, p.get("delta")),
            "response.function_call_arguments.done": lambda p: self._input(p, p.get("arguments"), True),
            "response.custom_tool_call_input.delta": lambda p: self._input(p, p.get("delta")),
            "response.custom_tool_call_input.done": lambda p: self._input(p, p.get("input"), True),
            "response.completed": self._on_terminal,
            "response.incomplete": self._on_terminal,
            "response.failed": self._on_failed,
            "error": self._on_error,
        }

    def _on_response(self, payload: dict[str, Any]) -> list[bytes]:
        response = payload.get("response")
        if isinstance(response, dict):
            if not self._id and isinstance(response.get("id"), str):
                self._id = response["id"]
            if not self._model and isinstance(response.get("model"), str):
                self._model = response["model"]
            created = response.get("created_at")
            if type(created) is int and created > 0:
                self._created = created
        return self._open()

    def _on_item_added(self, payload: dict[str, Any]) -> list[bytes]:
        item = payload.get("item")
        if not isinstance(item, dict) or item.get("type") not in _CALLS:
            # A message or reasoning item streams through its parts; a server tool's is not the client's.
            return self._open()
        call = _Call(number=len(self._calls), kind=str(item["type"]))
        self._calls[payload.get("output_index")] = call
        header = {
            "index": call.number,
            "id": item.get("call_id") or item.get("id"),
            "type": "function",
            "function": {"name": item.get("name"), "arguments": ""},
        }
        out = self._open() + [self._chunk({"tool_calls": [header]})]
        return out + self._arguments(call, item.get(_CALLS[call.kind]), True)

    def _on_item_done(self, payload: dict[str, Any]) -> list[bytes]:
        item = payload.get("item")
        if not isinstance(item, dict):
            return []
        where = payload.get("output_index")
        kind = item.get("type")
        out: list[bytes] = []
        if kind == "message":
            for index, part in enumerate(item.get("content") or ()):
                if isinstance(part, dict) and part.get("type") == "output_text":
                    out += self._caught_up(("content", where, index), part.get("text"), self._content)
                elif isinstance(part, dict) and part.get("type") == "refusal":
                    out += self._caught_up(("content", where, index), part.get("refusal"), self._refusal)
        elif kind == "reasoning":
            for part_kind in ("content", "summary"):
                for index, part in enumerate(item.get(part_kind) or ()):
                    if isinstance(part, dict):
                        out += self._thought(
                            {"output_index": where, f"{part_kind}_index": index}, part_kind, part.get("text"), True
                        )
        elif where in self._calls:
            call = self._calls[where]
            out += self._arguments(call, item.get(_CALLS[call.kind]), True)
            if call.kind == "function_call" and not "".join(call.fragments).strip():
                # A function with no arguments: "{}", as OpenAI sends it ("" is not JSON).
                out += self._arguments(call, "{}")
        return out

    def _on_terminal(self, payload: dict[str, Any]) -> list[bytes]:
        self.done = True
        response = payload.get("response")
        response = response if isinstance(response, dict) else {}
        reason = self.finish_reason(str(payload.get("type")), response)
        out = self._open() + [self._chunk({}, reason)]
        usage = response.get("usage")
        if self.include_usage and isinstance(usage, dict):
            out.append(openai_chunk(self._envelope(choices=[], usage=chat_usage(usage))))
        return out + [DONE]

    def _on_failed(self, payload: dict[str, Any]) -> list[bytes]:
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        return self._error(error if isinstance(error, dict) else {}, "upstream response failed")

    def _on_error(self, payload: dict[str, Any]) -> list[bytes]:
        # OpenAI nests the error's fields under `error`; the spec writes them flat.
        nested = payload.get("error")
        return self._error(nested if isinstance(nested, dict) else payload, "upstream sent an error event")

    def _error(self, error: dict[str, Any], fallback: str) -> list[bytes]:
        message, type_, code = error.get("message"), error.get("type"), error.get("code")
        if not isinstance(type_, str) or type_ == "error":  # a flat event's `type` is the event's own
            type_ = code if isinstance(code, str) else "upstream_error"
        return self._fail(message if isinstance(message, str) and message else fallback, type_, code)

    # -- content --------------------------------------------------------------------------------

    def _text(
        self,
        payload: dict[str, Any],
        part_kind: str,
        write: Callable[[str], list[bytes]],
        text: Any,
        done: bool = False,
    ) -> list[bytes]:
        key = (part_kind, payload.get("output_index"), payload.get(f"{part_kind}_index", 0))
        if done:
            return self._caught_up(key, text, write)
        if not isinstance(text, str) or not text:
            return []
        self._streamed.setdefault(key, []).append(text)
        return write(text)

    def _thought(self, payload: dict[str, Any], part_kind: str, text: Any, done: bool = False) -> list[bytes]:
        if not isinstance(text, str) or not text:
            return []
        if self._reasoning_kind.setdefault(payload.get("output_index"), part_kind) != part_kind:
            return []
        return self._text(payload, part_kind, self._reasoning, text, done)

    def _caught_up(self, key: tuple[str, Any, Any], final: Any, write: Callable[[str], list[bytes]]) -> list[bytes]:
        """What of a part's final text was not streamed: the rest, when the deltas were its start."""
        streamed = "".join(self._streamed.get(key, ()))
        if not isinstance(final, str) or len(final) <= len(streamed) or not final.startswith(streamed):
            return []
        self._streamed[key] = [final]
        return write(final[len(streamed) :])

    def _input(self, payload: dict[str, Any], text: Any, done: bool = False) -> list[bytes]:
        call = self._calls.get(payload.get("output_index"))
        return self._arguments(call, text, done) if call is not None else []

    def _arguments(self, call: _Call, text: Any, done: bool = False) -> list[bytes]:
        streamed = "".join(call.fragments)
        if done:
            # The whole input, from a `.done` event or the done item: only what was not streamed.
            if not isinstance(text, str) or len(text) <= len(streamed) or not text.startswith(streamed):
                return []
            text = text[len(streamed) :]
        if not isinstance(text, str) or not text:
            return []
        call.fragments.append(text)
        return [self._chunk({"tool_calls": [{"index": call.number, "function": {"arguments": text}}]})]

    def _content(self, text: str) -> list[bytes]:
        return self._open() + [self._chunk({"content": text})]

    def _refusal(self, text: str) -> list[bytes]:
        return self._open() + [self._chunk({"refusal": text})]

    def _reasoning(self, text: str) -> list[bytes]:
        return self._open() + [self._chunk({"reasoning_content": text})]

    # -- writing --------------------------------------------------------------------------------

    def _open(self) -> list[bytes]:
        """The first chunk, which alone carries the role, as OpenAI sends it."""
        if self._opened:
            return []
        self._opened = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return openai_chunk(self._envelope(choices=[choice]))

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        model = self._model or str(self.request.get("model") or "unknown")
        return chat_envelope(self._id or "unknown", self._created, model, **fields)


def chat_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Responses usage as the chat usage chunk reports it: both count the cached input in the input
    (`input_tokens`, `prompt_tokens`) and the reasoning in the output (`output_tokens`,
    `completion_tokens`), with the same details beside."""
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    total = usage.get("total_tokens")
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total if isinstance(total, int) and total >= 0 else prompt + completion,
    }
    input_details = {
        name: value
        for name, value in details(usage, "input_tokens_details").items()
        if name in ("cached_tokens", "cache_write_tokens") and isinstance(value, int)
    }
    if input_details:
        out["prompt_tokens_details"] = input_details
    reasoning = details(usage, "output_tokens_details").get("reasoning_tokens")
    if isinstance(reasoning, int):
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
