"""Conformance suite for LLM streaming proxies: corpus, SSE parser, invariants, targets, pytest plugin.

The map: bytes become events (`sse`), captures are loaded (`corpus`), events are checked per wire
protocol (`protocols`, `semantics`, `checks`), targets turn a client request and an upstream into
output bytes (`targets`), and the runner, the pytest plugin and the reports sit on top.
"""

from __future__ import annotations

from conformance.checks import build_context, check
from conformance.corpus import Capture, CaptureError, load_corpus
from conformance.invariants import Invariant, Verdict, Violation, invariant, registry
from conformance.neutral import Message, ToolCall
from conformance.sse import Event, Observation, SSEParser, format_event, parse
from conformance.targets.base import PROTOCOL_VERSION, Exchange, Route, Target

__all__ = [
    "PROTOCOL_VERSION",
    "Capture",
    "CaptureError",
    "Event",
    "Exchange",
    "Invariant",
    "Message",
    "Observation",
    "Route",
    "SSEParser",
    "Target",
    "ToolCall",
    "Verdict",
    "Violation",
    "build_context",
    "check",
    "format_event",
    "invariant",
    "load_corpus",
    "parse",
    "registry",
]
