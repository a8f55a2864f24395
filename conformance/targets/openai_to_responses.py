"""Route openai-chat -> openai-responses: serve an OpenAI Responses stream to the client from an
OpenAI-compatible chat upstream, as the bridges that put Responses clients (Codex and the like) in
front of chat-only providers do, in the shape every `openai-responses.*` invariant states.

Each kind of delta streams into an output item, in OpenAI's order (`response.output_item.added`,
its part, the deltas, the `.done` events with the whole value, `response.output_item.done`):
reasoning into a reasoning item's summary part, text into a message item's `output_text` part, a
refusal into its `refusal` part, and each tool call into a `function_call` item. An item stays
open while its kind of content goes on and is closed when another kind begins or the choice
finishes. The response is created at the first choice, and ends at `data: [DONE]` (the usage comes
after the finish chunk) with `response.completed`, or `response.incomplete` when the upstream
stopped at its token limit or a content filter. A broken upstream ends it with an `error` event and
`response.failed`, never with a clean finish.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from conformance.sse import Event
from conformance.targets._openai import ToolCallTracker, chunk_error, error_message, kept_usage, take_reasoning
from conformance.targets._responses_requests import responses_to_openai_request
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import responses_event, responses_failure
from conformance.usage import details, reasoning_included

__all__ = ["INCOMPLETE_REASONS", "OpenAIToResponses", "to_responses_usage"]

# OpenAI finish_reason -> Responses `incomplete_details.reason`; every other finish completes.
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
_EXCERPT = 200


@dataclass(slots=True)
class _Open:
    """An output item being streamed, and its open part (a message's text or refusal, a reasoning
    item's summary) with the text written into it so far."""

    index: int
    item: dict[str, Any]
    part: str | None = None
    part_index: int = 0
    text: list[str] = field(default_factory=list)


class OpenAIToResponses(RouteStream):
    upstream_path = "/v1/chat/completions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._id = ""
        self._model = ""
        self._created = 0
        self._response: dict[str, Any] | None = None  # as response.created gave it
        self._sequence = -1  # the last sequence_number written
        self._output: list[dict[str, Any]] = []  # every item added, in output_index order
        self._message: _Open | None = None
        self._reasoning: _Open | None = None
        self._calls: dict[int, _Open] = {}  # open function_call items, by call number
        self._tools = ToolCallTracker()
        self._finished = False  # upstream choice 0 gave its finish_reason
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        return responses_to_openai_request(self.request)

    def reasoning(self, delta: dict[str, Any]) -> str:
        """Take every reasoning dialect out of `delta`; return the text."""
        return take_reasoning(delta)

    def start_response(self) -> list[bytes]:
        """`response.created` and `response.in_progress`, as OpenAI opens every stream."""
        key = self._key()
        self._response = {
            "id": f"resp_{key}",
            "object": "response",
            "created_at": self._created or int(time.time()),
            "status": "in_progress",
            "error": None,
            "incomplete_details": None,
            "model": self._model or str(self.request.get("model") or "unknown"),
            "output": [],
            "usage": None,
        }
        return [
            self._event("response.created", response=self._response),
            self._event("response.in_progress", response=self._response),
        ]

    def terminate(self) -> list[bytes]:
        """The terminal event, with every item as it ended and the upstream's usage."""
        reason = INCOMPLETE_REASONS.get(self._finish or "stop")
        response = {
            **(self._response or {}),
            "status": "incomplete" if reason else "completed",
            "incomplete_details": {"reason": reason} if reason else None,
            "output": self._output,
            "usage": to_responses_usage(self._usage) if self._usage else None,
        }
        return [self._event("response.incomplete" if reason else "response.completed", response=response)]

    def on_cut_off(self) -> list[bytes]:
        # No [DONE]: the upstream was cut off; response.completed would hide that.
        return self._fail("upstream closed the stream before data: [DONE]", "upstream_cut_off")

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        if event.data.startswith("[DONE]"):
            self.done = True
            return self._start() + self._close_all() + self.terminate()
        try:
            chunk = json.loads(event.data)
        except ValueError:
            return self._fail(f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}")
        if not isinstance(chunk, dict):
            return self._fail(f"upstream sent a JSON value that is not a chunk: {event.data[:_EXCERPT]!r}")
        error = chunk_error(chunk)
        if error is not None:
            return self._fail(
                error_message(error, _EXCERPT), str(error.get("code") or error.get("type") or "server_error")
            )
        self._learn(chunk)
        self._usage = kept_usage(self._usage, chunk)
        out: list[bytes] = []
        for choice in chunk.get("choices") or ():
            # A Responses client cannot ask for several choices: only choice 0 is representable.
            if isinstance(choice, dict) and choice.get("index", 0) == 0 and not self._finished:
                out += self._choice(choice)
                if self.done:
                    break
        return out

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        error = failure.error or {}
        code = error.get("code") or error.get("type") or (f"http_{failure.status}" if failure.status else None)
        return self._fail(failure.message, str(code or "server_error"))

    def _fail(self, message: str, code: str = "server_error") -> list[bytes]:
        """`error` then `response.failed`, after `response.created` if nothing was written yet
        (openai-responses.response.created-first). Open items stay as they were: OpenAI closes
        nothing after an error."""
        self.done = True
        out = self._start()
        response = {**(self._response or {}), "output": self._output}
        events = responses_failure(self._sequence + 1, response, message, code)
        self._sequence += len(events)
        return out + events

    def _learn(self, chunk: dict[str, Any]) -> None:
        """The first real id, model and created. Azure's placeholder first chunk has them empty."""
        if not self._id and isinstance(chunk.get("id"), str):
            self._id = chunk["id"]
        if not self._model and isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        created = chunk.get("created")
        if not self._created and type(created) is int and created > 0:
            self._created = created

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        delta = dict(choice.get("delta") or {})
        out = self._start()
        # Order within one delta: reasoning, then text, then tool calls, so content that shares a
        # delta with a tool call is not lost.
        reasoning = self.reasoning(delta)
        if reasoning:
            out += self._reasoning_delta(reasoning)
        for key, part in (("content", "output_text"), ("refusal", "refusal")):
            text = delta.get(key)
            if isinstance(text, str) and text:  # an empty string opens nothing
                out += self._text_delta(part, text)
        calls = list(delta.get("tool_calls") or ())
        if isinstance(delta.get("function_call"), dict):
            # The deprecated function_call is one tool call with no id.
            calls.append({"index": -1, "function": delta["function_call"]})
        for call in calls:
            if isinstance(call, dict):
                out += self._tool_call(call)
                if self.done:
                    return out
        if choice.get("finish_reason") is not None:
            self._finished = True
            self._finish = choice["finish_reason"]
            out += self._close_all("incomplete" if self._finish in INCOMPLETE_REASONS else "completed")
        return out

    # -- items ----------------------------------------------------------------------------------

    def _reasoning_delta(self, text: str) -> list[bytes]:
        # Chat reasoning is the model's own text, which Responses could carry as reasoning_text;
        # it goes into a summary part because that is what OpenAI's Responses streams send and
        # what their clients show (Codex renders summary deltas, raw reasoning only on request).
        out: list[bytes] = []
        if self._reasoning is None:
            out += self._close_all()
            self._reasoning = self._add({"id": self._item_id("rs"), "type": "reasoning", "summary": []}, out)
            self._reasoning.part = "summary_text"
            out.append(
                self._part_event("response.reasoning_summary_part.added", self._reasoning, part=_part("summary_text"))
            )
        self._reasoning.text.append(text)
        out.append(self._part_event("response.reasoning_summary_text.delta", self._reasoning, delta=text))
        return out

    def _close_reasoning(self) -> list[bytes]:
        open_, self._reasoning = self._reasoning, None
        if open_ is None:
            return []
        part = _part("summary_text", "".join(open_.text))
        open_.item["summary"] = [part]
        return [
            self._part_event("response.reasoning_summary_text.done", open_, text=part["text"]),
            self._part_event("response.reasoning_summary_part.done", open_, part=part),
            self._event("response.output_item.done", output_index=open_.index, item=open_.item),
        ]

    def _text_delta(self, kind: str, text: str) -> list[bytes]:
        """Text (`output_text`) or a refusal (`refusal`) into the open message item's part of that kind."""
        out: list[bytes] = []
        if self._message is None:
            out += self._close_all()
            item = {
                "id": self._item_id("msg"),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            self._message = self._add(item, out)
        message = self._message
        if message.part != kind:
            out += self._close_part(message)
            message.part, message.part_index, message.text = kind, len(message.item["content"]), []
            out.append(self._part_event("response.content_part.added", message, part=_part(kind)))
        message.text.append(text)
        if kind == "output_text":
            out.append(self._part_event("response.output_text.delta", message, delta=text, logprobs=[]))
        else:
            out.append(self._part_event("response.refusal.delta", message, delta=text))
        return out

    def _close_part(self, message: _Open) -> list[bytes]:
        if message.part is None:
            return []
        kind, message.part = message.part, None
        part = _part(kind, "".join(message.text))
        message.item["content"].append(part)
        if kind == "output_text":
            done = self._part_event("response.output_text.done", message, text=part["text"], logprobs=[])
        else:
            done = self._part_event("response.refusal.done", message, refusal=part["refusal"])
        return [done, self._part_event("response.content_part.done", message, part=part)]

    def _close_message(self, status: str) -> list[bytes]:
        open_, self._message = self._message, None
        if open_ is None:
            return []
        out = self._close_part(open_)
        open_.item["status"] = status
        return out + [self._event("response.output_item.done", output_index=open_.index, item=open_.item)]

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        number, first = self._tools.locate(call)
        function = call.get("function") or {}
        name = function.get("name")
        out: list[bytes] = []
        if first:
            out += self._close_reasoning() + self._close_message("completed")
            item = {
                "id": self._item_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": call.get("id") or f"call_{self._key()}_{number}",
                "name": name if isinstance(name, str) else "",
            }
            self._calls[number] = self._add(item, out)
        open_ = self._calls.get(number)
        arguments = function.get("arguments")
        if open_ is None:
            if not isinstance(arguments, str) or not arguments:
                return out
            # Other output came between this call's fragments and closed its item: the arguments
            # the client was given as whole are not, and no later item can hold the rest.
            return out + self._fail("upstream sent arguments of a tool call after other output had ended it")
        if not open_.item["name"] and isinstance(name, str) and name:
            open_.item["name"] = name  # named late: output_item.done and the response carry it
        if isinstance(arguments, str) and arguments:
            open_.text.append(arguments)
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=open_.item["id"],
                    output_index=open_.index,
                    delta=arguments,
                )
            )
        return out

    def _close_call(self, open_: _Open, status: str) -> list[bytes]:
        out: list[bytes] = []
        arguments = "".join(open_.text)
        where = {"item_id": open_.item["id"], "output_index": open_.index}
        if not arguments.strip() and status == "completed":
            # A call with no arguments: "{}", as OpenAI sends it (clients json-parse the arguments).
            arguments = "{}"
            out.append(self._event("response.function_call_arguments.delta", **where, delta=arguments))
        open_.item.update(arguments=arguments, status=status)
        return out + [
            self._event("response.function_call_arguments.done", **where, arguments=arguments),
            self._event("response.output_item.done", output_index=open_.index, item=open_.item),
        ]

    def _close_all(self, status: str = "completed") -> list[bytes]:
        """Close every open item, in output_index order. Tool calls stay open together until then,
        since a chat upstream may interleave the argument fragments of parallel calls."""
        out = self._close_reasoning() + self._close_message(status)
        for open_ in sorted(self._calls.values(), key=lambda call: call.index):
            out += self._close_call(open_, status)
        self._calls.clear()
        return out

    # -- writing --------------------------------------------------------------------------------

    def _start(self) -> list[bytes]:
        return [] if self._response is not None else self.start_response()

    def _key(self) -> str:
        """What the ids of this response are made of: the upstream's id, or a fresh one."""
        if not self._id:
            self._id = uuid.uuid4().hex
        return self._id.removeprefix("chatcmpl-")

    def _item_id(self, prefix: str) -> str:
        return f"{prefix}_{self._key()}_{len(self._output)}"

    def _add(self, item: dict[str, Any], out: list[bytes]) -> _Open:
        """Add `item` at the next output_index, writing its `response.output_item.added` to `out`."""
        open_ = _Open(len(self._output), item)
        self._output.append(item)
        out.append(self._event("response.output_item.added", output_index=open_.index, item=item))
        return open_

    def _part_event(self, type_: str, open_: _Open, **fields: Any) -> bytes:
        index = "summary_index" if open_.item["type"] == "reasoning" else "content_index"
        return self._event(
            type_, item_id=open_.item["id"], output_index=open_.index, **{index: open_.part_index}, **fields
        )

    def _event(self, type_: str, **fields: Any) -> bytes:
        self._sequence += 1
        return responses_event({"type": type_, **fields, "sequence_number": self._sequence})


def _part(kind: str, text: str = "") -> dict[str, Any]:
    """A part as OpenAI writes it: empty when added, whole when done."""
    if kind == "refusal":
        return {"type": "refusal", "refusal": text}
    if kind == "output_text":
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    return {"type": kind, "text": text}


def to_responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """OpenAI chat usage as Responses reports it. Both count the cached input in the input
    (`prompt_tokens` and `input_tokens`; DeepSeek reports the cache hit as
    `prompt_cache_hit_tokens`) and the reasoning in the output (`completion_tokens`, except xAI's,
    and `output_tokens`)."""
    prompt = _count(usage.get("prompt_tokens"))
    output = _count(reasoning_included(usage))
    prompt_details = details(usage, "prompt_tokens_details")
    cached = prompt_details.get("cached_tokens", usage.get("prompt_cache_hit_tokens"))
    input_details: dict[str, int] = {"cached_tokens": _count(cached)}
    if "cache_write_tokens" in prompt_details:
        input_details["cache_write_tokens"] = _count(prompt_details["cache_write_tokens"])
    reasoning = details(usage, "completion_tokens_details").get("reasoning_tokens")
    return {
        "input_tokens": prompt,
        "input_tokens_details": input_details,
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": _count(reasoning)},
        "total_tokens": prompt + output,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
