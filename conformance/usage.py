"""What an OpenAI usage report means, as providers send it: read alike by the assembler the checks
use (`conformance.neutral`) and by the targets that re-encode usage (`conformance.targets`), so that
neither imports the other."""

from __future__ import annotations

from typing import Any

__all__ = ["details", "reasoning_included", "zeroed"]


def details(usage: dict[str, Any], name: str) -> dict[str, Any]:
    """`usage[name]` (`prompt_tokens_details`, `completion_tokens_details`), or {} when it is not an object."""
    found = usage.get(name)
    return found if isinstance(found, dict) else {}


def reasoning_included(usage: dict[str, Any]) -> Any:
    """`completion_tokens` with the reasoning in it, as OpenAI counts it. xAI leaves the reasoning
    out, so that its `total_tokens` is prompt + completion + reasoning (307 + 26 + 227 = 560 in
    vercel/ai's recorded grok-3-mini streams); that sum is how a stream says so."""
    completion = usage.get("completion_tokens")
    reasoning = details(usage, "completion_tokens_details").get("reasoning_tokens")
    counts = (usage.get("prompt_tokens"), completion, reasoning, usage.get("total_tokens"))
    if all(type(count) is int for count in counts) and reasoning and counts[3] == counts[0] + completion + reasoning:
        return completion + reasoning
    return completion


def zeroed(usage: dict[str, Any]) -> bool:
    """A usage report whose every count is 0: Cloudflare's repeated finish chunk sends one after the
    real report, and a client that lets it win has lost the counts."""
    values = [value for value in usage.values() if isinstance(value, (int, dict))]
    return bool(values) and all(zeroed(value) if isinstance(value, dict) else value == 0 for value in values)
