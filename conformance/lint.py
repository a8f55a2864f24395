"""Linting captures beyond their schema: does `expect` match the raw stream, and is the stream real?

Two rules keep the corpus honest and the invariants free of false positives:
- a capture's `expect` must be what its own raw stream assembles to;
- the raw stream of a capture that is not negative must pass every `provider`-level invariant of
  its protocol, and every invariant when it comes from the protocol's own vendor (OpenAI for
  openai-chat, Anthropic for anthropic-messages). That includes the client oracles (`oracle.*`): the
  official SDK must read the raw stream and assemble `expect` from it (oracle.openai-python is proxy
  level, as some providers' quirks break that client).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.checks import build_context, check
from conformance.corpus import Capture
from conformance.invariants import select
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES

__all__ = ["Finding", "PLACEHOLDER", "REQUEST_PLACEHOLDER", "lint_capture", "VENDORS"]

VENDORS = {OPENAI_CHAT: "openai", ANTHROPIC_MESSAGES: "anthropic", OPENAI_RESPONSES: "openai"}
# A negative capture's stream is broken on purpose: only what arrived before the fault is compared.
_NEGATIVE_COMPARED = (
    "semantic.text",
    "semantic.refusal",
    "semantic.reasoning",
    "semantic.tool-calls",
    "semantic.tool-call-ids",
    "semantic.signatures",
    "semantic.encrypted-reasoning",
    "semantic.choices",
    "semantic.server-tools",
    "semantic.citations",
    "semantic.error",
)
# The semantic.* checks compare the fields a capture lists; a capture must list each of these that
# its stream has, or the checks that read them would pass vacuously.
_COMPLETE = ("native_finish", "choices", "server_tools", "citations", "error")


@dataclass(frozen=True, slots=True)
class Finding:
    capture: str
    path: str
    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.invariant}: {self.message}"


# `conformance record` and `conformance import` start every field they cannot know with this, in
# the fields the contributor writes: the ones below, and the request they had no transcript of.
PLACEHOLDER = "TODO:"
REQUEST_PLACEHOLDER = f"{PLACEHOLDER} the request that produced this stream"
_WRITTEN_BY_HAND = ("description", "model", "endpoint", "provenance", "negative")


def _placeholders(meta: dict[str, Any]) -> Iterator[str]:
    """The fields still holding a placeholder; a prompt or an answer that starts with "TODO:" is
    content, not one."""
    for name in _WRITTEN_BY_HAND:
        yield from _strings_starting(meta.get(name), name, PLACEHOLDER)
    yield from _strings_starting(meta.get("request"), "request", REQUEST_PLACEHOLDER)


def _strings_starting(value: Any, path: str, prefix: str) -> Iterator[str]:
    if isinstance(value, str) and value.lstrip().startswith(prefix):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_starting(item, f"{path}.{key}", prefix)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings_starting(item, f"{path}[{index}]", prefix)


def lint_capture(capture: Capture) -> list[Finding]:
    ctx = build_context(
        capture.body,
        capture.protocol,
        request=capture.request,
        expect=capture.expect,
        negative=capture.negative,
        status=capture.status,
        ending=capture.ending,
    )
    chosen = select(capture.protocol)
    if capture.negative is not None:
        chosen = [inv for inv in chosen if inv.id in _NEGATIVE_COMPARED]
    else:
        vendor = capture.provider == VENDORS.get(capture.protocol)
        chosen = [inv for inv in chosen if inv.id.startswith("semantic.") or inv.level == "provider" or vendor]
    findings = [
        Finding(capture.id, str(capture.path), field, f"still holds a placeholder to write: {PLACEHOLDER} …")
        for field in _placeholders(capture.meta)
    ]
    for verdict in check(ctx, chosen):
        if verdict.outcome != "fail":
            continue
        if verdict.invariant.startswith("semantic."):
            where = "expect disagrees with the raw stream"
        elif verdict.invariant.startswith("oracle."):
            where = "expect disagrees with what the official client assembles from the raw stream"
        else:
            where = "the raw stream breaks an invariant real streams meet"
        first = verdict.violations[0]
        event = f" (event {first.event})" if first.event is not None else ""
        findings.append(
            Finding(
                capture.id,
                str(capture.path),
                verdict.invariant,
                f"{where}{event}: {first.message}; expected {first.expected!r}, got {first.actual!r}",
            )
        )
    reads = (capture.meta.get("timing") or {}).get("reads", [])
    read = sum(size for _, size in reads)
    if reads and read != len(capture.body):
        findings.append(
            Finding(
                capture.id,
                str(capture.path),
                "timing.reads",
                f"the reads add up to {read} bytes, but the .sse file holds {len(capture.body)}",
            )
        )
    derived = ctx.message.expect(broken=capture.negative is not None)
    for name in ("usage", *_COMPLETE) if capture.negative is None else _COMPLETE:
        if capture.expect.get(name) != derived.get(name):
            findings.append(
                Finding(
                    capture.id,
                    str(capture.path),
                    f"expect.{name}",
                    f"expect disagrees with the raw stream: expect.{name} is {capture.expect.get(name)!r}, the "
                    f"stream gives {derived.get(name)!r}",
                )
            )
    return findings
