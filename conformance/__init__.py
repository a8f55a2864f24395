"""Conformance suite for LLM streaming proxies: corpus, SSE parser, invariants, targets, pytest plugin.

The map: bytes become events (`sse`), captures are loaded (`corpus`), events are checked per wire
protocol (`protocols`, `semantics`, `checks`), targets turn a client request and an upstream into
output bytes (`targets`), and the runner, the pytest plugin and the reports sit on top.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from conformance.checks import build_context, check
    from conformance.corpus import Capture, CaptureError, load_corpus
    from conformance.invariants import Invariant, Verdict, Violation, invariant, registry
    from conformance.neutral import Message, ToolCall
    from conformance.sse import Event, Observation, SSEParser, format_event, parse
    from conformance.targets._wire import anthropic_error, anthropic_error_type, openai_error
    from conformance.targets.base import PROTOCOL_VERSION, Abort, Exchange, Head, Route, Target

# Imported on first use (PEP 562): a process that needs one module, like a hosted target's child or
# a pytest run without --target (the plugin is registered by entry point), does not pay for the
# checks, the schemas and the oracles (about 0.2 s).
_HOMES = {
    "build_context": "conformance.checks",
    "check": "conformance.checks",
    "Capture": "conformance.corpus",
    "CaptureError": "conformance.corpus",
    "load_corpus": "conformance.corpus",
    "Invariant": "conformance.invariants",
    "Verdict": "conformance.invariants",
    "Violation": "conformance.invariants",
    "invariant": "conformance.invariants",
    "registry": "conformance.invariants",
    "Message": "conformance.neutral",
    "ToolCall": "conformance.neutral",
    "Event": "conformance.sse",
    "Observation": "conformance.sse",
    "SSEParser": "conformance.sse",
    "format_event": "conformance.sse",
    "parse": "conformance.sse",
    "PROTOCOL_VERSION": "conformance.targets.base",
    "Abort": "conformance.targets.base",
    "Exchange": "conformance.targets.base",
    "Head": "conformance.targets.base",
    "Route": "conformance.targets.base",
    "Target": "conformance.targets.base",
    # What a target writes to its client when its upstream fails (README: Write a target).
    "anthropic_error": "conformance.targets._wire",
    "anthropic_error_type": "conformance.targets._wire",
    "openai_error": "conformance.targets._wire",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> _Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
