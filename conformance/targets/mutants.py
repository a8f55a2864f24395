"""Mutant targets: the reference with one real-world bug seeded in, with the issues it comes from.

Each mutant proves that one invariant bites: run against the corpus, it must fail `caught_by`.
A mutant is the reference with one seam replaced, either the stream class of some routes (a
subclass overriding one small method) or the upstream SSE framer of all routes. Its target name
is `mutant:<name>`.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.sse import Event, SSEParser, format_event
from conformance.targets._route import RouteStream
from conformance.targets._upstream import FramerFactory, UpstreamFailure
from conformance.targets._wire import DONE, anthropic_error, anthropic_event
from conformance.targets.anthropic_passthrough import AnthropicPassthrough
from conformance.targets.anthropic_to_openai import AnthropicToOpenAI, ToolBlock
from conformance.targets.base import Exchange, Route, Target
from conformance.targets.openai_normalizer import OpenAINormalizer
from conformance.targets.openai_to_anthropic import OpenAIToAnthropic
from conformance.targets.reference import Reference
from conformance.targets.responses_passthrough import ResponsesPassthrough

__all__ = ["MUTANTS", "Mutant"]

NORMALIZER: Route = (OPENAI_CHAT, OPENAI_CHAT)
ADAPTER: Route = (OPENAI_CHAT, ANTHROPIC_MESSAGES)
TO_OPENAI: Route = (ANTHROPIC_MESSAGES, OPENAI_CHAT)
PASSTHROUGH: Route = (ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES)
RESPONSES: Route = (OPENAI_RESPONSES, OPENAI_RESPONSES)


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str  # one sentence
    evidence: str  # the issues or pull requests the bug comes from, as URLs
    caught_by: str  # the invariant id that must catch it
    factory: Callable[[], Target]
    transport: str = ""
    """The transport check (`conformance.transport.CHECKS`) that catches it, when no capture can."""
    seeded: tuple[Route, ...] = ()
    """The routes whose stream the bug replaces; every route when it is in the framer or the target."""


def _synthetic(data: str) -> Event:
    """An upstream event the mutant pretends to have received."""
    return Event("message", data, "", 0, 0)


# -- reasoning-dropped-when-streaming -------------------------------------------------------------


class _NormalizerDropsReasoning(OpenAINormalizer):
    def reasoning(self, delta: dict[str, Any]) -> str:
        super().reasoning(delta)
        return ""


class _AdapterDropsReasoning(OpenAIToAnthropic):
    def reasoning(self, delta: dict[str, Any]) -> str:
        super().reasoning(delta)
        return ""


# -- empty-text-block-before-tool -----------------------------------------------------------------


class _AdapterOpensEmptyText(OpenAIToAnthropic):
    def start_message(self) -> list[bytes]:
        # Opened eagerly; the reference's own block switching then closes it, empty, before
        # whatever block comes first if that is not text.
        return super().start_message() + self.start_block({"type": "text", "text": ""})


# -- tool-fragments-merged ------------------------------------------------------------------------


class _NormalizerIndexZero(OpenAINormalizer):
    def tool_index(self, number: int, call: dict[str, Any]) -> int:
        return 0


# -- finish-chunk-twice ---------------------------------------------------------------------------


class _NormalizerFinishTwice(OpenAINormalizer):
    def write_finish(self, chunk: dict[str, Any]) -> list[bytes]:
        return super().write_finish(chunk) * 2


# -- done-in-anthropic-stream ---------------------------------------------------------------------


class _AdapterAppendsDone(OpenAIToAnthropic):
    def terminate(self) -> list[bytes]:
        return super().terminate() + [DONE]


class _PassthroughAppendsDone(AnthropicPassthrough):
    def terminate(self, event: Event) -> list[bytes]:
        return super().terminate(event) + [DONE]


# -- sse-split-on-lf-lf ---------------------------------------------------------------------------


class _LfLfFramer:
    """Frames events by splitting on b"\\n\\n" and reading `data: ` lines: the hand-rolled parser
    that never splits a CRLF or CR-only stream, which then looks cut off."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Event]:
        *blocks, self._buffer = (self._buffer + chunk).split(b"\n\n")
        return [event for event in map(_lflf_event, blocks) if event is not None]

    def close(self) -> list[Event]:
        return []


def _lflf_event(block: bytes) -> Event | None:
    name = "message"
    data: list[str] = []
    for line in block.decode("utf-8", "replace").split("\n"):
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
    return Event(name, "\n".join(data), "", 0, 0) if data else None


# -- utf8-split-corrupted -------------------------------------------------------------------------


class _PerReadDecodingFramer:
    """Decodes every read on its own before parsing, so a character split across two reads
    becomes U+FFFD twice over."""

    def __init__(self) -> None:
        self._parser = SSEParser()

    def feed(self, chunk: bytes) -> list[Event]:
        return self._parser.feed(chunk.decode("utf-8", "replace").encode("utf-8"))

    def close(self) -> list[Event]:
        return self._parser.close()


# -- cutoff-as-clean-finish -----------------------------------------------------------------------
# Each route pretends the upstream's terminator arrived: exactly the output a clean end would give.


class _NormalizerFinishesCutOff(OpenAINormalizer):
    def on_cut_off(self) -> list[bytes]:
        choices = [{"index": index, "delta": {}, "finish_reason": "stop"} for index in self.open_choices or [0]]
        return self.on_event(_synthetic(json.dumps({"choices": choices}))) + self.on_event(_synthetic("[DONE]"))


class _AdapterFinishesCutOff(OpenAIToAnthropic):
    def on_cut_off(self) -> list[bytes]:
        finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        return self.on_event(_synthetic(json.dumps(finish))) + self.on_event(_synthetic("[DONE]"))


class _ToOpenAIFinishesCutOff(AnthropicToOpenAI):
    def on_cut_off(self) -> list[bytes]:
        delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {}}
        return self.on_event(_synthetic(json.dumps(delta))) + self.on_event(_synthetic('{"type":"message_stop"}'))


class _PassthroughFinishesCutOff(AnthropicPassthrough):
    def on_cut_off(self) -> list[bytes]:
        out: list[bytes] = []
        if self.open_block is not None:
            out.append(anthropic_event({"type": "content_block_stop", "index": self.open_block}))
        delta = {"stop_reason": "end_turn", "stop_sequence": None}
        out.append(anthropic_event({"type": "message_delta", "delta": delta, "usage": {"output_tokens": 0}}))
        return out + [anthropic_event({"type": "message_stop"})]


# -- signature-dropped ----------------------------------------------------------------------------


class _PassthroughDropsSignature(AnthropicPassthrough):
    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        if isinstance(payload, dict) and (payload.get("delta") or {}).get("type") == "signature_delta":
            return []
        return super().forward(name, payload, event)


# -- tool-args-replaced-by-start-input ------------------------------------------------------------


class _ToOpenAIArgsFromStartInput(AnthropicToOpenAI):
    def argument_fragment(self, tool: ToolBlock, partial_json: str) -> str:
        return ""

    def arguments_at_stop(self, tool: ToolBlock) -> str:
        return json.dumps(tool.start_input if isinstance(tool.start_input, dict) else {})


# -- transport bugs (issue: buffering, cancellation, shared state, failures as clean finishes) ----


class _BufferingFramer:
    """Holds every upstream event until the body ends, then releases them all at once."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._held: list[Event] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self._held += self._parser.feed(chunk)
        return []

    def close(self) -> list[Event]:
        held, self._held = self._held + self._parser.close(), []
        return held


class _KeepsReading(Reference):
    """Reads the upstream in a task of its own into a queue; when the client leaves, the task
    reads on to the end."""

    def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        return self._relay(super().stream(exchange))

    async def _relay(self, upstream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for chunk in upstream:
                    await queue.put(chunk)
            finally:
                await queue.put(None)

        task = asyncio.ensure_future(pump())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        while (chunk := await queue.get()) is not None:
            yield chunk


_BACKGROUND: set[asyncio.Future[None]] = set()

_SHARED_QUEUE: collections.deque[bytes] = collections.deque()
"""One output queue for every stream of the process: LiteLLM's shared chunk queue."""


class _SharedQueue(Reference):
    def stream(self, exchange: Exchange) -> AsyncIterator[bytes]:
        return self._through_queue(super().stream(exchange))

    async def _through_queue(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            _SHARED_QUEUE.append(chunk)
            await asyncio.sleep(0)  # another stream may write or take in between
            if _SHARED_QUEUE:
                yield _SHARED_QUEUE.popleft()
        while _SHARED_QUEUE:
            await asyncio.sleep(0)
            if _SHARED_QUEUE:
                yield _SHARED_QUEUE.popleft()


# An upstream HTTP error answered as a clean finish: the cut-off mutants' clean endings, on failure.
class _NormalizerFinishesOnError(_NormalizerFinishesCutOff):
    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        return self.on_cut_off()


class _AdapterFinishesOnError(_AdapterFinishesCutOff):
    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        return self.on_cut_off()


# The message_start an error-as-clean-finish mutant invents when the upstream never sent one.
_EMPTY_START = {
    "type": "message_start",
    "message": {
        "id": "msg_0",
        "type": "message",
        "role": "assistant",
        "model": "",
        "content": [],
        "stop_reason": None,
        "usage": {},
    },
}


class _ToOpenAIFinishesOnError(_ToOpenAIFinishesCutOff):
    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        return self.on_event(_synthetic(json.dumps(_EMPTY_START))) + self.on_cut_off()


class _PassthroughFinishesOnError(_PassthroughFinishesCutOff):
    def on_failure(self, failure: UpstreamFailure) -> list[bytes]:
        return self.forward("message_start", _EMPTY_START, _synthetic(json.dumps(_EMPTY_START))) + self.on_cut_off()


# An upstream event whose data is not JSON skipped, and the stream goes on to a clean finish: what
# LiteLLM's routes from Anthropic upstreams do (reports/litellm-*/expectations.yaml).
class _ToOpenAISkipsUnparsable(AnthropicToOpenAI):
    def on_event(self, event: Event) -> list[bytes]:
        try:
            json.loads(event.data)
        except ValueError:
            return []
        return super().on_event(event)


# -- seams for the mutants below: an upstream chunk or event, edited before the reference reads it --


def _edited_chunk(event: Event, edit: Callable[[dict[str, Any]], None]) -> Event:
    """The event with its JSON chunk edited in place; an event that is not a JSON object unchanged."""
    try:
        data = json.loads(event.data)
    except ValueError:
        return event
    if not isinstance(data, dict):
        return event
    edit(data)
    return _synthetic(json.dumps(data))


def _deltas(chunk: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(choice, delta) for each choice of an OpenAI chunk that has a delta object."""
    return [
        (choice, choice["delta"])
        for choice in chunk.get("choices") or ()
        if isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
    ]


# -- refusal-dropped ------------------------------------------------------------------------------


def _drop_refusal(chunk: dict[str, Any]) -> None:
    for _, delta in _deltas(chunk):
        delta.pop("refusal", None)


class _NormalizerDropsRefusal(OpenAINormalizer):
    """Reads each chunk into a delta model that has no refusal field."""

    def on_event(self, event: Event) -> list[bytes]:
        return super().on_event(_edited_chunk(event, _drop_refusal))


# -- choices-after-the-first-dropped --------------------------------------------------------------


def _first_choice_only(chunk: dict[str, Any]) -> None:
    if isinstance(chunk.get("choices"), list):
        chunk["choices"] = [c for c in chunk["choices"] if not isinstance(c, dict) or c.get("index", 0) == 0]


class _NormalizerFirstChoiceOnly(OpenAINormalizer):
    def on_event(self, event: Event) -> list[bytes]:
        return super().on_event(_edited_chunk(event, _first_choice_only))


# -- content-with-finish-dropped ------------------------------------------------------------------


def _drop_content_on_finish(chunk: dict[str, Any]) -> None:
    for choice, delta in _deltas(chunk):
        if choice.get("finish_reason") is not None:
            delta.pop("content", None)


class _AdapterDropsContentOnFinish(OpenAIToAnthropic):
    """Reads a chunk that carries finish_reason as the finish alone, dropping content that came with it."""

    def on_event(self, event: Event) -> list[bytes]:
        return super().on_event(_edited_chunk(event, _drop_content_on_finish))


# -- tool-call-beside-content-dropped -------------------------------------------------------------


def _drop_tool_calls_beside_content(chunk: dict[str, Any]) -> None:
    for _, delta in _deltas(chunk):
        if delta.get("content") and delta.get("tool_calls"):
            delta.pop("tool_calls")


class _AdapterDropsToolCallBesideContent(OpenAIToAnthropic):
    """Reads a delta as text or as a tool call, never both: the tool call beside text is lost."""

    def on_event(self, event: Event) -> list[bytes]:
        return super().on_event(_edited_chunk(event, _drop_tool_calls_beside_content))


# -- server-tool-blocks-dropped -------------------------------------------------------------------

_CLIENT_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})


class _PassthroughDropsServerTools(AnthropicPassthrough):
    """Models content blocks as text, thinking or tool_use, and skips every other block."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skipped: set[Any] = set()

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        if isinstance(payload, dict) and name.startswith("content_block_"):
            block = payload.get("content_block")
            if name == "content_block_start" and isinstance(block, dict) and block.get("type") not in _CLIENT_BLOCKS:
                self._skipped.add(payload.get("index"))
            if payload.get("index") in self._skipped:
                return []
        return super().forward(name, payload, event)


# -- citations-dropped ----------------------------------------------------------------------------


class _PassthroughDropsCitations(AnthropicPassthrough):
    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        if isinstance(payload, dict) and (payload.get("delta") or {}).get("type") == "citations_delta":
            return []
        return super().forward(name, payload, event)


# -- stop-sequence-reported-as-end-turn -----------------------------------------------------------


class _PassthroughEndTurn(AnthropicPassthrough):
    """Maps stop reasons through a table that knows only end_turn, max_tokens, tool_use and refusal."""

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        delta = payload.get("delta") if isinstance(payload, dict) else None
        if name == "message_delta" and isinstance(delta, dict) and delta.get("stop_reason") == "stop_sequence":
            rewritten = {**payload, "delta": {**delta, "stop_reason": "end_turn", "stop_sequence": None}}
            return [format_event(json.dumps(rewritten), event=name)]
        return super().forward(name, payload, event)


# -- error-type-flattened -------------------------------------------------------------------------


class _PassthroughFlattensErrors(AnthropicPassthrough):
    """Re-raises every upstream error event as a generic api_error with the upstream's message."""

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        error = payload.get("error") if isinstance(payload, dict) else None
        if name == "error" and isinstance(error, dict):
            return [anthropic_error("api_error", str(error.get("message", "")))]
        return super().forward(name, payload, event)


# -- start-input-discarded ------------------------------------------------------------------------


class _ToOpenAIDiscardsStartInput(AnthropicToOpenAI):
    """Builds arguments from input_json_delta alone, so a tool_use whose input came whole in
    content_block_start, with no delta, gets {}."""

    def arguments_at_stop(self, tool: ToolBlock) -> str:
        return "{}" if tool.fragments == 0 else ""


# -- the registry ---------------------------------------------------------------------------------


def _mutant(
    name: str,
    bug: str,
    evidence: str,
    caught_by: str,
    *,
    streams: Mapping[Route, type[RouteStream]] | None = None,
    framer: FramerFactory = SSEParser,
    target: type[Reference] = Reference,
    transport: str = "",
) -> Mutant:
    def factory() -> Target:
        return target(f"mutant:{name}", streams=streams, framer=framer)

    seeded = tuple(sorted(streams)) if streams else tuple(sorted(Reference.routes))
    return Mutant(name, bug, evidence, caught_by, factory, transport, seeded)


# -- Responses pass-through bugs --------------------------------------------------------------------


def _responses_event(payload: dict[str, Any], name: str) -> list[bytes]:
    return [format_event(json.dumps(payload, ensure_ascii=False), event=name)]


class _ResponsesSequencePerItem(ResponsesPassthrough):
    """Numbers each output item's events from 0 again, as a translator that keeps one counter for
    the lifecycle events and another for each item's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counter = 0

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        if name == "response.output_item.added":
            self._counter = 0
        numbered = {**payload, "sequence_number": self._counter}
        self._counter += 1
        return _responses_event(numbered, name)


class _ResponsesErrorEndsStream(ResponsesPassthrough):
    """Ends the stream at the upstream's `error` event: the `response.failed` after it is never sent."""

    def on_event(self, event: Event) -> list[bytes]:
        output = super().on_event(event)
        if self.errored:
            self.done = True
        return output


class _ResponsesOutputIndexZero(ResponsesPassthrough):
    """Puts every output item at output_index 0, as a translator that takes it from the chat choice's index."""

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        if "output_index" not in payload:
            return super().forward(name, payload, event)
        return _responses_event({**payload, "output_index": 0}, name)


class _ResponsesCustomToolUnknown(ResponsesPassthrough):
    """Knows function calls but not custom tool calls: their items and input events are skipped."""

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        item = payload.get("item")
        if name.startswith("response.custom_tool_call_input.") or (
            isinstance(item, dict) and item.get("type") == "custom_tool_call"
        ):
            return []
        return super().forward(name, payload, event)


class _ResponsesDropsEncryptedReasoning(ResponsesPassthrough):
    """Re-encodes each output item it streams through an item model with no encrypted_content, as a
    streaming handler with no case for it: the lifecycle events' response objects pass unchanged."""

    def forward(self, name: str, payload: Any, event: Event) -> list[bytes]:
        item = payload.get("item")
        if not isinstance(item, dict) or "encrypted_content" not in item:
            return super().forward(name, payload, event)
        kept = {key: value for key, value in item.items() if key != "encrypted_content"}
        return _responses_event({**payload, "item": kept}, name)


MUTANTS: dict[str, Mutant] = {
    mutant.name: mutant
    for mutant in (
        _mutant(
            "reasoning-dropped-when-streaming",
            "The normalizer and the adapter drop every reasoning delta, whatever its field.",
            "https://github.com/BerriAI/litellm/issues/7942 (DeepSeek reasoning_content None in every streamed delta); https://github.com/api7/aisix/issues/502 (OpenRouter reasoning kept only when not streaming)",
            "semantic.reasoning",
            streams={NORMALIZER: _NormalizerDropsReasoning, ADAPTER: _AdapterDropsReasoning},
        ),
        _mutant(
            "empty-text-block-before-tool",
            "The adapter always opens a text block at index 0 and closes it empty when the stream opens with a tool call.",
            "https://github.com/BerriAI/litellm/issues/30765, https://github.com/BerriAI/litellm/issues/31561 and https://github.com/BerriAI/litellm/issues/34692 (an empty text block opened at index 0)",
            "anthropic.block.no-empty-text",
            streams={ADAPTER: _AdapterOpensEmptyText},
        ),
        _mutant(
            "tool-fragments-merged",
            "The normalizer rewrites every tool_calls[].index to 0, merging parallel calls.",
            "https://github.com/ollama/ollama/issues/15457 (every parallel call at index 0); https://github.com/maximhq/bifrost/issues/1829 (interleaved tool deltas merged)",
            "openai.tool.index-per-id",
            streams={NORMALIZER: _NormalizerIndexZero},
        ),
        _mutant(
            "finish-chunk-twice",
            "The normalizer writes every finish chunk twice.",
            'https://github.com/QwenLM/qwen-code/issues/2402 (a second finish chunk wiped the tool calls); https://github.com/langchain-ai/langchain/pull/38349 (finish_reason "stopstop")',
            "openai.finish.once",
            streams={NORMALIZER: _NormalizerFinishTwice},
        ),
        _mutant(
            "done-in-anthropic-stream",
            "The adapter and the pass-through append `data: [DONE]` after message_stop.",
            "https://github.com/anthropics/anthropic-sdk-csharp/pull/202 ([DONE] after an Anthropic stream: \"'D' is an invalid start of a value\")",
            "anthropic.stream.no-done",
            streams={ADAPTER: _AdapterAppendsDone, PASSTHROUGH: _PassthroughAppendsDone},
        ),
        _mutant(
            "sse-split-on-lf-lf",
            "Every route frames upstream events by splitting on LF LF, so CRLF and CR-only streams never yield an event.",
            "https://github.com/hey-api/hey-api/issues/3054 (CRLF-framed events never parsed); https://github.com/rexxars/eventsource-parser/issues/17 (a CRLF split across reads)",
            "semantic.text",
            framer=_LfLfFramer,
        ),
        _mutant(
            "utf8-split-corrupted",
            "Every route decodes each upstream read separately, corrupting a UTF-8 character split across reads.",
            "https://github.com/api7/aisix/issues/111 (multi-byte UTF-8 split across reads turned into U+FFFD)",
            "semantic.text",
            framer=_PerReadDecodingFramer,
        ),
        _mutant(
            "cutoff-as-clean-finish",
            "When the upstream ends without its terminator, every route finishes the stream cleanly instead of reporting an error.",
            "https://github.com/caozhiyuan/copilot-api/issues/338 (a stream closed without its terminal event); https://github.com/2389-research/tracker/issues/544 (EOF before [DONE] reported as success)",
            "semantic.error-surfaced",
            streams={
                NORMALIZER: _NormalizerFinishesCutOff,
                ADAPTER: _AdapterFinishesCutOff,
                TO_OPENAI: _ToOpenAIFinishesCutOff,
                PASSTHROUGH: _PassthroughFinishesCutOff,
            },
        ),
        _mutant(
            "signature-dropped",
            "The pass-through drops signature_delta events.",
            "https://github.com/router-for-me/CLIProxyAPI/pull/570 (thinking signatures not propagated, or fabricated)",
            "semantic.signatures",
            streams={PASSTHROUGH: _PassthroughDropsSignature},
        ),
        _mutant(
            "tool-args-replaced-by-start-input",
            "The Anthropic-to-OpenAI route ignores input_json_delta and sends each tool call's start input, so streamed arguments become {}.",
            "https://github.com/earendil-works/pi/pull/2593 (start input overwritten with {}); https://github.com/envoyproxy/ai-gateway/issues/1465 (start input {} prefixed to the deltas)",
            "semantic.tool-calls",
            streams={TO_OPENAI: _ToOpenAIArgsFromStartInput},
        ),
        _mutant(
            "buffers-whole-stream",
            "Every route holds the upstream's events until its body ends, then releases them all at once.",
            "https://github.com/BerriAI/litellm/issues/3129 (streamed responses delivered all at once)",
            "transport.incremental",
            framer=_BufferingFramer,
            transport="incremental",
        ),
        _mutant(
            "reads-on-after-disconnect",
            "Every route reads the upstream in a background task that goes on to the end after the client disconnects.",
            "https://github.com/BerriAI/litellm/issues/13774 (upstream requests kept running after the client disconnected)",
            "transport.cancel-propagates",
            target=_KeepsReading,
            transport="cancel-propagates",
        ),
        _mutant(
            "shared-chunk-queue",
            "Every stream writes its output through one process-wide queue, so concurrent streams take each other's chunks.",
            "https://github.com/BerriAI/litellm/pull/28868 (a chunk queue shared by every stream instance)",
            "transport.concurrent-isolation",
            target=_SharedQueue,
            transport="concurrent-isolation",
        ),
        _mutant(
            "upstream-error-as-clean-finish",
            "Every route answers an upstream HTTP error status with a clean, empty finish.",
            "https://github.com/2389-research/tracker/issues/544 (a failed stream reported as a successful response); https://openrouter.ai/docs/errors (an upstream error status and body)",
            "semantic.error-surfaced",
            streams={
                NORMALIZER: _NormalizerFinishesOnError,
                ADAPTER: _AdapterFinishesOnError,
                TO_OPENAI: _ToOpenAIFinishesOnError,
                PASSTHROUGH: _PassthroughFinishesOnError,
            },
            transport="fault-http-500",
        ),
        _mutant(
            "skips-unparsable-event",
            "The Anthropic-to-OpenAI route skips an upstream event whose data is not JSON and streams on to a clean finish.",
            "https://www.rfc-editor.org/rfc/rfc8259 — an event that is not JSON cannot be read, and skipping it hides the loss; LiteLLM's routes from Anthropic upstreams skip it (reports/litellm-*/expectations.yaml)",
            "semantic.error-surfaced",
            streams={TO_OPENAI: _ToOpenAISkipsUnparsable},
            transport="fault-invalid-json",
        ),
        _mutant(
            "refusal-dropped",
            "The normalizer reads chunks into a delta model with no refusal field, so refusal text is lost.",
            "https://github.com/langchain4j/langchain4j/issues/5813 (a streaming Delta without refusal dropped it); https://github.com/lidge-jun/opencodex/issues/3767 (refusal dropped, read as an empty answer)",
            "semantic.refusal",
            streams={NORMALIZER: _NormalizerDropsRefusal},
        ),
        _mutant(
            "choices-after-the-first-dropped",
            "The normalizer forwards only choice 0 of an n > 1 stream.",
            "https://github.com/BerriAI/litellm/issues/5236 (every choice of an n > 1 stream at index 0); https://github.com/BerriAI/litellm/issues/35793 (n > 1 choices merged into one)",
            "semantic.choices",
            streams={NORMALIZER: _NormalizerFirstChoiceOnly},
        ),
        _mutant(
            "content-with-finish-dropped",
            "The adapter reads a chunk that carries finish_reason as the finish alone, dropping the content in it.",
            "https://github.com/vllm-project/vllm/pull/36944 (finish_reason sent on the last content chunk); https://github.com/BerriAI/litellm/pull/39723 (a chunk with a refusal and finish_reason lost its text)",
            "semantic.text",
            streams={ADAPTER: _AdapterDropsContentOnFinish},
        ),
        _mutant(
            "tool-call-beside-content-dropped",
            "The adapter reads a delta as text or as a tool call, so a tool call sent in the same delta as text is lost.",
            "https://github.com/vllm-project/vllm/blob/main/tests/entrypoints/anthropic/test_message_stream_converter.py (content and tool_calls in one delta: the tool call was dropped)",
            "semantic.tool-calls",
            streams={ADAPTER: _AdapterDropsToolCallBesideContent},
        ),
        _mutant(
            "server-tool-blocks-dropped",
            "The pass-through forwards only text, thinking and tool_use blocks, skipping server_tool_use and its results.",
            "https://github.com/experientiallabs/experiential/pull/690 (server_tool_use blocks skipped as unknown)",
            "semantic.server-tools",
            streams={PASSTHROUGH: _PassthroughDropsServerTools},
        ),
        _mutant(
            "citations-dropped",
            "The pass-through drops citations_delta events.",
            "https://github.com/stdapi-ai/stdapi.ai/issues/229 (streamed responses dropped citations_delta); https://github.com/unslothai/unsloth/pull/5718 (a proxy silently dropped citations)",
            "semantic.citations",
            streams={PASSTHROUGH: _PassthroughDropsCitations},
        ),
        _mutant(
            "stop-sequence-reported-as-end-turn",
            "The pass-through reports a turn stopped by a stop sequence as end_turn, with stop_sequence null.",
            "https://github.com/praxis-proxy/ai/issues/1246 (stop sequences reported as end_turn); https://github.com/sgl-project/sglang/pull/33153 (stop_sequence never reported)",
            "semantic.native-finish",
            streams={PASSTHROUGH: _PassthroughEndTurn},
        ),
        _mutant(
            "error-type-flattened",
            "The pass-through re-raises every upstream error event as a generic api_error.",
            "https://github.com/OpenHands/OpenHands/issues/6942 (an overloaded_error seen as a generic server error was not retried)",
            "semantic.error",
            streams={PASSTHROUGH: _PassthroughFlattensErrors},
        ),
        _mutant(
            "responses-sequence-restarts",
            "The Responses pass-through numbers each output item's events from 0 again.",
            "https://github.com/ggml-org/llama.cpp/pull/24957 (partial and final Responses events numbered by separate counters); https://github.com/BerriAI/litellm/pull/28899 (default sequence_number 0 made the numbering non-monotonic)",
            "openai-responses.sequence.numbered",
            streams={RESPONSES: _ResponsesSequencePerItem},
        ),
        _mutant(
            "responses-failed-dropped",
            "The Responses pass-through ends the stream at the upstream's error event, without the response.failed that follows it.",
            "https://github.com/microsoft/agent-framework-go/issues/546 (an error event not followed by response.failed)",
            "openai-responses.response.terminal-last",
            streams={RESPONSES: _ResponsesErrorEndsStream},
        ),
        _mutant(
            "responses-output-index-collides",
            "The Responses pass-through gives every output item output_index 0.",
            "https://github.com/decolua/9router/issues/2611 (reasoning and tool-call items sharing output_index 0 made Codex drop the tool call); https://github.com/theopenco/llmgateway/pull/2908 (a message and a tool call at one output_index)",
            "openai-responses.item.sequence",
            streams={RESPONSES: _ResponsesOutputIndexZero},
        ),
        _mutant(
            "responses-custom-tool-dropped",
            "The Responses pass-through skips custom tool call items and their input events.",
            "https://github.com/router-for-me/CLIProxyAPI/issues/5753 (a custom tool call lost in translation)",
            "semantic.tool-calls",
            streams={RESPONSES: _ResponsesCustomToolUnknown},
        ),
        _mutant(
            "responses-encrypted-reasoning-dropped",
            "The Responses pass-through drops encrypted_content from the reasoning items of response.output_item.added and .done.",
            "https://github.com/microsoft/agent-framework-go/pull/683 (a Responses streaming handler dropped the completed reasoning item's encrypted_content, breaking replay with store false); https://github.com/zendev-sh/goai/issues/134 (Responses reasoning.encrypted_content dropped, breaking stateless reasoning replay)",
            "semantic.encrypted-reasoning",
            streams={RESPONSES: _ResponsesDropsEncryptedReasoning},
        ),
        _mutant(
            "start-input-discarded",
            "The Anthropic-to-OpenAI route builds arguments from input_json_delta alone, so input sent whole in content_block_start becomes {}.",
            "https://github.com/earendil-works/pi/pull/2593 (Kimi's tool input in content_block_start overwritten with {})",
            "semantic.tool-calls",
            streams={TO_OPENAI: _ToOpenAIDiscardsStartInput},
        ),
    )
}
