"""Reading OpenAI-format upstream chunks as providers really send them.

Shared by the two routes whose upstream speaks OpenAI chat: the normalizer and the adapter.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.usage import zeroed

__all__ = ["REASONING_FIELDS", "ToolCallTracker", "chunk_error", "split_content", "take_reasoning"]

# Every reasoning dialect, in order of preference: DeepSeek, vLLM<=0.10, xAI and
# Qwen say `reasoning_content`; OpenRouter, vLLM>=0.11, Groq and Ollama say `reasoning`; some other
# servers say `thinking`. vLLM 0.11 may send both of the first two with the same text, so the
# first non-empty one wins and the rest are dropped, never concatenated.
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def take_reasoning(delta: dict[str, Any]) -> str:
    """Remove every reasoning field from `delta` and return its reasoning text ("" if none).

    Mistral's array `content` is flattened to its text here too, its thinking parts returned.
    OpenRouter sends the same text in `reasoning` and `reasoning_details[].text`; concatenating
    both produced "WeWe need need", so the details are only a fallback for a
    delta with no plain reasoning field.
    """
    values = [delta.pop(field, None) for field in REASONING_FIELDS]
    details = delta.pop("reasoning_details", None)
    if isinstance(delta.get("content"), list):
        delta["content"], inline = split_content(delta["content"])
        values.insert(0, inline)
    for value in values:
        if isinstance(value, str) and value:
            return value
    if isinstance(details, list):
        return "".join(
            item["text"]
            for item in details
            if isinstance(item, dict) and item.get("type") == "reasoning.text" and isinstance(item.get("text"), str)
        )
    return ""


def split_content(content: Any) -> tuple[Any, str]:
    """Split Mistral's array `content` into (text, reasoning); other values pass unchanged.

    Magistral streams `[{"type":"thinking","thinking":[{"type":"text","text":…}]}]` or
    `[{"type":"text","text":…}]` in `delta.content`.
    """
    if not isinstance(content, list):
        return content, ""
    text: list[str] = []
    reasoning: list[str] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            text.append(part["text"])
        elif part.get("type") == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                reasoning.append(inner)
            elif isinstance(inner, list):
                reasoning.extend(p["text"] for p in inner if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "".join(text), "".join(reasoning)


def error_message(error: dict[str, Any], excerpt: int = 200) -> str:
    """What an upstream error says: its message, else the start of the error object itself."""
    message = error.get("message")
    if isinstance(message, str) and message:
        return message
    return "upstream reported an error: " + json.dumps(error, ensure_ascii=False)[:excerpt]


def kept_usage(kept: dict[str, Any] | None, chunk: dict[str, Any]) -> dict[str, Any] | None:
    """The usage report to keep once `chunk` has arrived. Providers report usage on the finish
    chunk, a duplicate finish chunk or a choices:[] chunk, some more than once, and the last report
    is the complete one; but Cloudflare repeats it with every count 0, which must not overwrite it."""
    usage = chunk.get("usage")
    if isinstance(usage, dict) and usage and (kept is None or not zeroed(usage)):
        return usage
    return kept


def chunk_error(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """The upstream error a chunk carries, if any: OpenAI's bare `{"error":…}` frame, or
    OpenRouter's chunk with a top-level `error` and `finish_reason:"error"`."""
    error = chunk.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str) and error:
        return {"message": error}
    for choice in chunk.get("choices") or ():
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            return {"message": 'upstream finished the choice with finish_reason "error"', "type": "upstream_error"}
    return None


class ToolCallTracker:
    """Which tool call each upstream tool-call delta belongs to, numbered 0, 1, … in order of first
    appearance.

    A call is known by its upstream `index`; a delta at a known index carrying a *different*
    non-empty id starts a new call (Ollama sends every parallel call at index 0, ollama/ollama#15457),
    and a delta with neither index nor id continues the latest call (Mistral sends no index). For a
    provider that numbers its calls 0, 1, … the numbers equal its indices.
    """

    def __init__(self) -> None:
        self._by_index: dict[Any, int] = {}
        self._ids: list[str | None] = []

    def __len__(self) -> int:
        return len(self._ids)

    def locate(self, call: dict[str, Any]) -> tuple[int, bool]:
        """(call number, whether this delta starts the call)."""
        index = call.get("index")
        call_id = call.get("id") or None  # Qwen repeats `"id":""` on continuations
        known = self._by_index.get(index)
        if index is None and call_id is None and self._ids:
            known = len(self._ids) - 1
        if known is not None and (call_id is None or self._ids[known] in (None, call_id)):
            if self._ids[known] is None:
                self._ids[known] = call_id
            return known, False
        number = len(self._ids)
        self._ids.append(call_id)
        self._by_index[index] = number
        return number, True
