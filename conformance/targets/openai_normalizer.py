"""Route openai-chat -> openai-chat: normalize whatever OpenAI-compatible dialect the upstream
speaks into canonical OpenAI chunks, the shape every `openai.*` invariant states."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from conformance.sse import Event
from conformance.targets._openai import ToolCallTracker, chunk_error, error_message, kept_usage, take_reasoning
from conformance.targets._route import RouteStream
from conformance.targets._upstream import UpstreamFailure
from conformance.targets._wire import DONE, openai_chunk, openai_error

__all__ = ["OpenAINormalizer"]

_EXCERPT = 200


class OpenAINormalizer(RouteStream):
    upstream_path = "/v1/chat/completions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.request.get("stream_options") or {}
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self._meta: dict[str, Any] = {}
        self._meta_fixed = False
        self._started: set[int] = set()  # choices whose first delta went out (it carries `role`)
        self._finished: set[int] = set()  # choices whose finish chunk went out
        self._tools: dict[int, ToolCallTracker] = {}
        self._usage: dict[str, Any] | None = None

    # -- seams (mutants override these) ---------------------------------------------------------

    def upstream_body(self) -> dict[str, Any]:
        body = copy.deepcopy(self.request)
        body["stream"] = True
        return body

    def reasoning(self, delta: dict[str, Any]) -> str:
        """Take every reasoning dialect out of `delta`; return the text."""
        return take_reasoning(delta)

    def tool_index(self, number: int, call: dict[str, Any]) -> int:
        """The output `index` of the `number`-th tool call of a choice: 0, 1, … in order, which is
        the upstream's own index whenever the upstream numbers calls correctly (openai.tool.index-dense)."""
        return number

    def write_finish(self, chunk: dict[str, Any]) -> list[bytes]:
        """Write a chunk holding a finish_reason: once (openai.finish.once)."""
        return [openai_chunk(chunk)]

    def on_cut_off(self) -> list[bytes]:
        # An upstream that stops before [DONE] was cut off: say so, never finish cleanly.
        return [openai_error("upstream closed the stream before data: [DONE]", "upstream_cut_off")]

    @property
    def open_choices(self) -> list[int]:
        """Choices that have started and not yet finished."""
        return sorted(self._started - self._finished)

    # -- the state machine ----------------------------------------------------------------------

    def on_event(self, event: Event) -> list[bytes]:
        if event.data.startswith("[DONE]"):
            self.done = True
            return self._usage_chunk() + [DONE]
        try:
            chunk = json.loads(event.data)
        except ValueError:
            return self._fail(f"upstream sent data that is not JSON: {event.data[:_EXCERPT]!r}")
        if not isinstance(chunk, dict):
            return self._fail(f"upstream sent a JSON value that is not a chunk: {event.data[:_EXCERPT]!r}")
        error = chunk_error(chunk)
        if error is not None:
            self.done = True
            return [_error_frame(error)]
        self._learn_meta(chunk)
        self._usage = kept_usage(self._usage, chunk)
        choices = [c for c in (self._choice(raw) for raw in chunk.get("choices") or () if isinstance(raw, dict)) if c]
        if not choices:
            # A usage-only or placeholder chunk (Azure's prompt_filter_results): its usage is
            # kept above; a choice-less chunk only ever goes out as the one usage chunk.
            return []
        out = {key: value for key, value in chunk.items() if key != "usage"}
        out.update(self._fixed_meta())
        out["choices"] = choices
        if any(choice["finish_reason"] is not None for choice in choices):
            return self.write_finish(out)
        return [openai_chunk(out)]

    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        self.done = True
        error = failure.error or {}
        code = error.get("code") if error.get("code") is not None else failure.status
        type_ = error.get("type") if isinstance(error.get("type"), str) else "upstream_error"
        return [openai_error(failure.message, type_, code)]

    def _fail(self, message: str) -> list[bytes]:
        self.done = True
        return [openai_error(message, "upstream_error")]

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        index = choice.get("index", 0)
        if index in self._finished:
            # Anything after a choice's finish, above all a duplicate finish chunk (OpenRouter,
            # Cloudflare, Together), is dropped; its usage was already kept.
            return None
        out = dict(choice)
        out["index"] = index
        delta = dict(choice.get("delta") or {})
        for key in ("role", "tool_calls", "function_call"):
            if key in delta and delta[key] is None:
                del delta[key]  # SGLang sends role and tool_calls null, which the chunk schema refuses
        reasoning = self.reasoning(delta)
        if reasoning:
            delta["reasoning_content"] = reasoning
        if index in self._started:
            delta.pop("role", None)  # repeated by OpenRouter, Together, Copilot; the client would concatenate it
        else:
            self._started.add(index)
            delta.setdefault("role", "assistant")
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            tracker = self._tools.setdefault(index, ToolCallTracker())
            delta["tool_calls"] = [self._tool_call(tracker, call) for call in calls if isinstance(call, dict)]
        out["delta"] = delta
        # xAI and Copilot omit the key until the end; the chunk schema requires it.
        out["finish_reason"] = choice.get("finish_reason")
        if out["finish_reason"] is not None:
            self._finished.add(index)
        return out

    def _tool_call(self, tracker: ToolCallTracker, call: dict[str, Any]) -> dict[str, Any]:
        number, first = tracker.locate(call)
        out = dict(call)
        out["index"] = self.tool_index(number, call)
        function = dict(call.get("function") or {})
        if first:
            out.setdefault("type", "function")  # Mistral sends none
        else:
            # Only a call's first delta names it; Qwen repeats `"id":""`, `"type"`, GLM
            # `"name":""`, which the openai-python accumulator would concatenate.
            out.pop("id", None)
            out.pop("type", None)
            function.pop("name", None)
        if function:
            out["function"] = function
        else:
            out.pop("function", None)
        return out

    def _learn_meta(self, chunk: dict[str, Any]) -> None:
        """Remember the first real id, created and model. Azure's placeholder first chunk has them
        empty, so an empty value does not count."""
        if self._meta_fixed:
            return
        for key, kind in (("id", str), ("model", str), ("created", int)):
            value = chunk.get(key)
            if key not in self._meta and isinstance(value, kind) and value:
                self._meta[key] = value

    def _fixed_meta(self) -> dict[str, Any]:
        """The identity every output chunk carries, fixed by the first one written."""
        if not self._meta_fixed:
            self._meta_fixed = True
            self._meta.setdefault("id", "chatcmpl-unknown")
            self._meta.setdefault("model", "unknown")
            self._meta.setdefault("created", int(time.time()))
            self._meta["object"] = "chat.completion.chunk"
        return self._meta

    def _usage_chunk(self) -> list[bytes]:
        if not self.include_usage or self._usage is None:
            return []
        meta = self._fixed_meta()
        chunk = {"id": meta["id"], "object": meta["object"], "created": meta["created"], "model": meta["model"]}
        chunk.update(choices=[], usage=self._usage)
        return [openai_chunk(chunk)]


def _error_frame(error: dict[str, Any]) -> bytes:
    message = error_message(error, _EXCERPT)
    type_ = error.get("type") if isinstance(error.get("type"), str) else "upstream_error"
    code = error.get("code") if isinstance(error.get("code"), (str, int)) else None
    return openai_error(message, type_, code)
