"""Semantic preservation: the assembled output against the capture's `expect`, in any protocol.

These invariants apply only when a stream is checked against a capture (`ctx.expect` is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.invariants import Violation, invariant
from conformance.neutral import client_finish, object_arguments
from conformance.protocols import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from conformance.stream import Context

__all__ = ["expected_reasoning", "expected_signatures", "first_difference", "truncate"]

# OpenAI's clients, Chat Completions and Responses alike: a refusal field apart from the text,
# reasoning tokens in the usage, and no pause_turn finish.
_OPENAI_CLIENTS = frozenset({OPENAI_CHAT, OPENAI_RESPONSES})
# The protocols that carry server-tool results and citations, each in shapes of its own: compared
# unless the capture speaks the other one (a translation between them has no common shape to check).
_CARRIERS = frozenset({ANTHROPIC_MESSAGES, OPENAI_RESPONSES})


def _compared(ctx: Context) -> bool:
    return ctx.expect is not None


def _positive(ctx: Context) -> bool:
    return ctx.expect is not None and ctx.negative is None


def truncate(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def first_difference(expected: str, actual: str) -> str:
    for position, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return f"first difference at character {position}: expected {expected[position : position + 20]!r}, got {actual[position : position + 20]!r}"
    return f"one is a prefix of the other: expected {len(expected)} characters, got {len(actual)}"


def _compare_text(name: str, expected: str, actual: str) -> Iterator[Violation]:
    if expected != actual:
        yield Violation(f"{name} differs; {first_difference(expected, actual)}", truncate(expected), truncate(actual))


@invariant(
    "semantic.text",
    impact="breaks",
    hint="Pass text through unchanged: parse upstream SSE with CR, LF and CRLF line endings across any read boundary, decode UTF-8 incrementally, and never drop or rewrite a text delta.",
    applies=_compared,
    evidence=[
        "https://github.com/BerriAI/litellm/issues/30765 — LiteLLM dropped the first text_delta after a thinking block",
        "https://github.com/hey-api/hey-api/issues/3054 — an SSE parser that split only on \\n\\n never parsed CRLF-framed events",
        "https://github.com/rexxars/eventsource-parser/issues/17 — a CRLF split across reads produced two events instead of one",
        "https://github.com/api7/aisix/issues/111 — decoding each read on its own corrupted CJK and emoji split across reads",
    ],
)
def text_preserved(ctx: Context) -> Iterator[Violation]:
    """The output's text equals the capture's, character for character; a client with no refusal field (Anthropic) gets any refusal text as text."""
    expect = ctx.expect or {}
    if ctx.protocol in _OPENAI_CLIENTS:
        yield from _compare_text("text", str(expect.get("text", "")), ctx.message.text)
        return
    expected = str(expect.get("text", "")) + str(expect.get("refusal", ""))
    yield from _compare_text("text", expected, ctx.message.text + ctx.message.refusal)


@invariant(
    "semantic.refusal",
    impact="breaks",
    hint="Forward a refusal as a refusal (delta.refusal, or a Responses refusal part and its response.refusal.delta events): a refusal moved into the text reads as an answer, and an answer moved into the refusal as a refusal.",
    applies=lambda ctx: _compared(ctx) and ctx.protocol in _OPENAI_CLIENTS,
    evidence=[
        "https://github.com/openai/openai-openapi — the chunk delta carries the model's refusal in its own refusal field, apart from content",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — the client accumulates refusal apart from content and emits refusal.delta and refusal.done events for it",
        "https://platform.openai.com/docs/api-reference/responses-streaming — a Responses stream carries a refusal in a refusal content part, with response.refusal.delta and response.refusal.done events",
        "https://github.com/lidge-jun/opencodex/issues/3767 — a translator dropped streamed refusal text, so a refusal read as an empty successful answer",
    ],
)
def refusal_preserved(ctx: Context) -> Iterator[Violation]:
    """An OpenAI client (Chat Completions or Responses) receives the capture's refusal text in its refusal field, apart from the text."""
    yield from _compare_text("refusal", str((ctx.expect or {}).get("refusal", "")), ctx.message.refusal)


@invariant(
    "semantic.reasoning",
    impact="breaks",
    hint="Carry the upstream's reasoning, from whichever field it uses, into the client's reasoning field (reasoning_content, or a thinking block) in full and exactly once.",
    applies=_compared,
    evidence=[
        "https://api-docs.deepseek.com/guides/reasoning_model — DeepSeek streams reasoning in delta.reasoning_content",
        "https://openrouter.ai/docs/use-cases/reasoning-tokens — OpenRouter streams it in delta.reasoning and delta.reasoning_details",
        "https://github.com/BerriAI/litellm/issues/7942 — LiteLLM returned reasoning_content None in every streamed delta though it was present without streaming",
        "https://github.com/api7/aisix/issues/502 — a gateway kept OpenRouter reasoning on its non-streaming path only",
    ],
)
def reasoning_preserved(ctx: Context) -> Iterator[Violation]:
    """The output carries the capture's reasoning exactly once, in full."""
    yield from _compare_text("reasoning", expected_reasoning(ctx, ctx.message.reasoning), ctx.message.reasoning)


def expected_reasoning(ctx: Context, received: str) -> str:
    """The reasoning a client of `ctx` must receive, given what it `received`: the capture's. A
    Responses capture's reasoning summary comes in parts (each a paragraph with its own bold title)
    that another protocol's client gets as one text, so a gateway may separate them with whitespace
    (LiteLLM joins them with a blank line): whitespace added, and nothing else changed, is the same
    reasoning."""
    expected = str((ctx.expect or {}).get("reasoning", ""))
    if ctx.expect_protocol == OPENAI_RESPONSES and ctx.protocol != OPENAI_RESPONSES and _spaced(expected, received):
        return received
    return expected


def _spaced(expected: str, received: str) -> bool:
    """`received` is `expected` with whitespace inserted, and nothing else changed."""
    matched = 0
    for char in received:
        if matched < len(expected) and char == expected[matched]:
            matched += 1
        elif not char.isspace():
            return False
    return matched == len(expected)


@invariant(
    "semantic.tool-calls",
    impact="breaks",
    hint="Deliver every upstream tool call, in order, with its name and complete arguments, never merging, dropping or emptying one.",
    applies=_compared,
    evidence=[
        "https://github.com/openai/openai-openapi — a tool call is a function name with its arguments as a JSON string",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a tool_use block carries the tool's name and an input object built from input_json_delta fragments",
        "https://github.com/ollama/ollama/issues/15457 — parallel tool calls all at index 0 were merged into one with invalid arguments",
        "https://github.com/earendil-works/pi/pull/2593 — tool arguments sent whole in content_block_start were overwritten with {}",
    ],
)
def tool_calls_preserved(ctx: Context) -> Iterator[Violation]:
    """The output makes the capture's tool calls in order, with the same names and the same parsed arguments; a call the upstream broke off keeps the argument text that arrived, unaltered, or is left out."""
    expected = _calls((ctx.expect or {}).get("tool_calls", []), ctx.protocol)
    unfinished = bool(expected) and "arguments_prefix" in expected[-1]
    last = len(expected) - 1
    actual = [_call(call, unfinished and position == last) for position, call in enumerate(ctx.message.tool_calls)]
    if unfinished and len(actual) == last:
        expected = expected[:-1]  # holding back an unfinished call loses nothing a client can use
    if expected != actual:
        yield Violation("tool calls differ", expected, actual)


def _calls(expected: list[dict[str, Any]], client_protocol: str) -> list[dict[str, Any]]:
    calls = [
        {"name": call["name"], **{key: call[key] for key in ("arguments", "arguments_prefix") if key in call}}
        for call in expected
    ]
    if client_protocol == ANTHROPIC_MESSAGES:
        for call in calls:
            if "arguments" in call:
                call["arguments"] = object_arguments(call["arguments"])
    return calls


def _call(call: Any, unfinished: bool) -> dict[str, Any]:
    if unfinished:
        return {"name": call.name, "arguments_prefix": call.raw_arguments}
    return {"name": call.name, "arguments": call.arguments}


@invariant(
    "semantic.tool-call-ids",
    impact="strict",
    hint="Pass tool-call ids through unchanged; a proxy that must rewrite them has to map them back on the next request, which a check of the stream alone cannot see.",
    applies=_compared,
    evidence=[
        "https://github.com/openai/openai-openapi — a tool message names the call it answers by tool_call_id",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/tool_result_block_param.py — a tool_result names the tool_use block it answers by tool_use_id",
    ],
)
def tool_call_ids_preserved(ctx: Context) -> Iterator[Violation]:
    """The output keeps the upstream's tool-call ids (a call the upstream gave no id, such as a deprecated function_call, may get one)."""
    expected = [call["id"] for call in (ctx.expect or {}).get("tool_calls", [])]
    actual = [call.id for call in ctx.message.tool_calls]
    if len(expected) == len(actual) and any(want and want != got for want, got in zip(expected, actual, strict=True)):
        yield Violation("tool call ids were rewritten", expected, actual)


@invariant(
    "semantic.finish",
    impact="breaks",
    hint="Map the finish between protocols as corpus/README.md's neutral table does (stop and end_turn, length and max_tokens, tool_calls and tool_use, content_filter and refusal, and pause_turn, which OpenAI lacks, as stop), reporting tool_calls or tool_use whenever the turn made tool calls.",
    applies=_positive,
    evidence=[
        "https://github.com/openai/openai-openapi — finish_reason is one of stop, length, tool_calls, content_filter and function_call",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/message.py — stop_reason is one of end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal and model_context_window_exceeded",
        "https://github.com/BerriAI/litellm/issues/34692 — a tool turn through LiteLLM was reported as end_turn",
        "https://github.com/anomalyco/opencode/blob/1808fe8628327c988cf620fc5d394164177cd18e/packages/llm/test/fixtures/recordings/openai-chat/streams-tool-call.json — OpenAI finishes a forced tool call with stop, so a turn that called tools counts as tool_calls",
    ],
)
def finish_preserved(ctx: Context) -> Iterator[Violation]:
    """The output finishes for the same reason as the capture, mapped between protocols."""
    expected = client_finish((ctx.expect or {}).get("finish"), openai=ctx.protocol in _OPENAI_CLIENTS)
    if ctx.message.finish != expected:
        yield Violation("finish reason differs", expected, ctx.message.finish)


# The neutral usage counts (`conformance.neutral.Message.usage`), and what each means in both protocols.
_USAGE_MEANING = {
    "input_tokens": "total input: OpenAI prompt_tokens, Anthropic input_tokens + cache_read_input_tokens + cache_creation_input_tokens",
    "cached_input_tokens": "input served from the cache: OpenAI prompt_tokens_details.cached_tokens, Anthropic cache_read_input_tokens",
    "cache_creation_input_tokens": "input written to the cache: OpenAI prompt_tokens_details.cache_write_tokens, Anthropic cache_creation_input_tokens",
    "output_tokens": "OpenAI completion_tokens, Anthropic output_tokens",
    "reasoning_tokens": "OpenAI completion_tokens_details.reasoning_tokens, Responses output_tokens_details.reasoning_tokens",
}
# A stream that omits these reports none: no cache hit, no reasoning.
_ABSENT_MEANS_ZERO = frozenset({"cached_input_tokens", "cache_creation_input_tokens", "reasoning_tokens"})
_OPENAI_ONLY_USAGE = frozenset({"reasoning_tokens"})


def _usage_compared(ctx: Context) -> bool:
    return _compared(ctx) and ctx.negative is None and ctx.usage_requested and bool((ctx.expect or {}).get("usage"))


@invariant(
    "semantic.usage",
    impact="breaks",
    hint="Report every count the upstream gives (total input with cached input included, cached input, input written to the cache, output and reasoning tokens) in the client's fields, never zeroing it or letting a later partial report overwrite it.",
    applies=_usage_compared,
    evidence=[
        "https://github.com/openai/openai-openapi — the usage chunk covers the whole request, prompt_tokens including the cached tokens it details",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — the token counts in message_delta's usage are cumulative",
        "https://github.com/router-for-me/CLIProxyAPI/issues/1700 — a proxy reported input_tokens 0 in message_start",
        "https://github.com/envoyproxy/ai-gateway/pull/1631 — a message_delta's input_tokens 0 overwrote the real input count from message_start",
    ],
)
def usage_preserved(ctx: Context) -> Iterator[Violation]:
    """When the client asked for usage, the output reports each count the capture reports: total input (cached input included), cached input, input written to the cache, output, and reasoning tokens where the client's protocol has a field for them."""
    expected: dict[str, Any] = dict((ctx.expect or {})["usage"])
    actual = ctx.message.usage
    if actual is None:
        yield Violation("usage was lost", expected, None)
        return
    for name, value in expected.items():
        if name in _OPENAI_ONLY_USAGE and ctx.protocol not in _OPENAI_CLIENTS:
            continue  # Anthropic's usage has no field for it
        got = actual.get(name, 0 if name in _ABSENT_MEANS_ZERO else None)
        if got != value:
            yield Violation(f"usage {name} differs ({_USAGE_MEANING[name]})", value, got, path=name)


def expected_signatures(ctx: Context, received: list[str]) -> list[str]:
    """The signatures an Anthropic client of `ctx` must receive, given the ones it `received`: the
    capture's, byte for byte. A Responses upstream's are OpenAI's encrypted reasoning, which only
    OpenAI can read: an adapter may leave them all out (the reference's does,
    conformance/targets/responses_to_anthropic.py), or carry them all, verbatim, in the thinking
    signatures for the client to send back; nothing in between. Carried, each may be wrapped by the
    gateway that unwraps it when the client sends it back (LiteLLM prefixes
    `litellm_encrypted_reasoning:`), as long as it holds the upstream's value whole."""
    expected = list((ctx.expect or {}).get("signatures", []))
    if ctx.expect_protocol == OPENAI_RESPONSES:
        if not received:
            return []
        if len(received) == len(expected) and all(value in got for value, got in zip(expected, received, strict=True)):
            return list(received)
    return expected


@invariant(
    "semantic.signatures",
    impact="breaks",
    hint="Forward thinking signatures byte for byte from the upstream's signature_delta, and never invent, empty or re-encode one; a Responses upstream's encrypted_content, if carried at all, goes in whole and unchanged (a gateway may wrap it to recognise it on the next turn).",
    protocol=ANTHROPIC_MESSAGES,
    applies=_compared,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/streaming — signature_delta carries the thinking block's signature just before the block stops",
        "https://github.com/router-for-me/CLIProxyAPI/issues/2172 — a proxy that re-serialised thinking blocks invalidated their signatures on the next turn",
        'https://github.com/router-for-me/CLIProxyAPI/pull/570 — fabricated signatures, and signatures not propagated, made the API answer "Invalid signature in thinking block"',
        'https://github.com/dwgx/WindsurfAPI/pull/228 — an empty signature "" was rejected by strict clients',
    ],
)
def signatures_preserved(ctx: Context) -> Iterator[Violation]:
    """Thinking signatures reach an Anthropic client byte for byte, and none is invented (a Responses upstream's encrypted reasoning, which Anthropic cannot read, may be left out whole)."""
    expected = expected_signatures(ctx, ctx.message.signatures)
    if ctx.message.signatures != expected:
        yield Violation(
            "thinking signatures differ",
            [truncate(s, 40) for s in expected],
            [truncate(s, 40) for s in ctx.message.signatures],
        )


@invariant(
    "semantic.encrypted-reasoning",
    impact="breaks",
    hint="Forward each reasoning item's encrypted_content byte for byte in response.output_item.added and .done (the completed item's is the one a client sends back), and never drop, empty, re-encode or invent one; from an upstream of another protocol, send its reasoning signature whole or none.",
    protocol=OPENAI_RESPONSES,
    applies=_compared,
    evidence=[
        'https://platform.openai.com/docs/guides/reasoning — with include ["reasoning.encrypted_content"], a stateless client (store false, zero data retention) passes each reasoning item back, encrypted_content and all, in its next request so the model keeps its reasoning',
        "https://platform.openai.com/docs/api-reference/responses — include reasoning.encrypted_content adds an encrypted version of the reasoning tokens to the reasoning items of the output (ReasoningItem.encrypted_content)",
        "https://github.com/openai/openai-python/blob/main/src/openai/types/responses/response_reasoning_item.py — when streaming, the encrypted_content to send back is the completed item's, from response.output_item.done; the one in response.output_item.added may be incomplete",
        "https://github.com/microsoft/agent-framework-go/pull/683 — a Responses streaming handler dropped the completed reasoning item's encrypted_content, which broke encrypted-reasoning replay with store false",
        "https://github.com/BerriAI/litellm/issues/36197 — LiteLLM silently dropped reasoning items, encrypted_content included, when it translated Responses requests for other providers, so the model lost its reasoning on every tool-call turn",
    ],
)
def encrypted_reasoning_preserved(ctx: Context) -> Iterator[Violation]:
    """A Responses client receives the upstream's encrypted reasoning on its reasoning items byte for byte and in order, and never an encrypted_content the upstream did not send."""
    expected = list((ctx.expect or {}).get("signatures", []))
    actual = ctx.message.signatures
    if ctx.same_protocol:
        if actual != expected:
            yield Violation(
                "encrypted reasoning differs",
                [truncate(s, 40) for s in expected],
                [truncate(s, 40) for s in actual],
            )
        return
    # Another protocol's opaque reasoning token (an Anthropic thinking signature) is not OpenAI's:
    # OpenAI cannot decrypt it, so leaving it out loses nothing OpenAI could use. A gateway that
    # carries it for the client to send back must carry it whole (wrapped, perhaps, so that it
    # knows it again on the next turn), and can have no other.
    invented = [s for s in actual if not any(value in s for value in expected)]
    if invented:
        yield Violation(
            "encrypted reasoning the upstream never sent",
            [truncate(s, 40) for s in expected],
            [truncate(s, 40) for s in invented],
        )


@invariant(
    "semantic.clean-finish",
    impact="breaks",
    judges_silence=True,
    hint="Forward a stream that completed upstream to its end: its finish, its usage and the protocol's terminator ([DONE], message_stop, or response.completed or response.incomplete), with no error.",
    applies=_positive,
    evidence=[
        "https://github.com/openai/openai-openapi — a complete chat completion stream ends with data: [DONE]",
        "https://docs.claude.com/en/docs/build-with-claude/streaming — a complete Messages stream ends with message_stop",
        "https://platform.openai.com/docs/api-reference/responses-streaming — a complete Responses stream ends with response.completed, or response.incomplete when it stopped early",
        "https://github.com/caozhiyuan/copilot-api/issues/338 — a proxy that threw on a chunk closed the stream silently, without its terminal event",
    ],
)
def clean_finish(ctx: Context) -> Iterator[Violation]:
    """A capture that completed upstream completes at the client: no error, the protocol's terminator, and a response that is not cut off."""
    if ctx.message.error is not None:
        yield Violation(
            "the output reports an error for a stream that completed upstream", "no error", ctx.message.error
        )
    elif not ctx.message.done:
        yield Violation(
            "the output never terminates cleanly",
            "response.completed or response.incomplete"
            if ctx.protocol == OPENAI_RESPONSES
            else "[DONE] or message_stop",
            "aborted" if ctx.aborted else "EOF",
        )
    elif ctx.aborted and not _stops_reading(ctx):
        # openai-python stops reading at [DONE]; anthropic-sdk-python, and openai-python on a Responses
        # stream without [DONE], read to the body's end and raise.
        last = "its terminal event" if ctx.protocol == OPENAI_RESPONSES else "message_stop"
        yield Violation(f"the response was cut off after {last}: the client raises", "a complete body", "aborted")


def _stops_reading(ctx: Context) -> bool:
    """The client stops reading at the stream's terminator, so what comes after it cannot hurt."""
    if ctx.protocol == OPENAI_RESPONSES:
        return bool(ctx.view.done)  # only an Open Responses stream has a [DONE] to stop at
    return ctx.protocol == OPENAI_CHAT


def _negative(ctx: Context) -> bool:
    return ctx.expect is not None and ctx.negative is not None


@invariant(
    "semantic.error-surfaced",
    impact="breaks",
    judges_silence=True,
    hint='When the upstream fails or is cut off, send an error in the client\'s protocol (an {"error": …} frame, event: error, or a Responses error event and response.failed) and close, never a finish reason, [DONE], message_stop or response.completed.',
    applies=_negative,
    evidence=[
        'https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — openai-python raises APIError on an {"error": …} frame',
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — anthropic-sdk-python raises on event: error",
        "https://openrouter.ai/docs/api-reference/streaming — OpenRouter reports a mid-stream failure as an error chunk and then ends the stream",
        "https://github.com/2389-research/tracker/issues/544 — a stream that ended before [DONE] was reported as a successful, partial response",
    ],
)
def error_surfaced(ctx: Context) -> Iterator[Violation]:
    """When the upstream stream broke, the client receives an error: in its own protocol, or by a response cut off before any clean finish."""
    message = ctx.message
    kind = (ctx.negative or {}).get("kind", "broken")
    if message.error is None and not ctx.aborted:
        yield Violation(
            f"upstream {kind} did not reach the client as an error",
            "an error frame or error event, or an aborted response",
            "no error",
        )
    if message.done or (message.finish is not None and not ctx.aborted):
        yield Violation(
            f"upstream {kind} reported as a clean finish",
            "no finish and no terminator",
            {"finish": message.finish, "terminated": message.done},
        )


@invariant(
    "semantic.native-finish",
    impact="breaks",
    hint="Forward the upstream's finish value itself when the client speaks the upstream's protocol: keep stop_sequence (and its stop_sequence), model_context_window_exceeded or function_call rather than their nearest common name, and never invent one.",
    applies=lambda ctx: _positive(ctx) and ctx.same_protocol,
    evidence=[
        "https://docs.claude.com/en/api/handling-stop-reasons — stop_sequence, max_tokens, model_context_window_exceeded, refusal and pause_turn each tell the client something end_turn does not",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/stop_reason.py — stop_reason is one of end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal and model_context_window_exceeded",
        "https://github.com/openai/openai-openapi — finish_reason function_call answers the deprecated function_call, apart from tool_calls",
        "https://github.com/praxis-proxy/ai/issues/1246 — a gateway reported turns stopped by a stop sequence as end_turn with stop_sequence null",
    ],
)
def native_finish_preserved(ctx: Context) -> Iterator[Violation]:
    """A client of the upstream's own protocol receives the finish value the upstream sent, where it says more than the protocol's usual name for that finish."""
    expected = (ctx.expect or {}).get("native_finish")
    if ctx.message.native_finish != expected:
        yield Violation("the provider's finish value was not kept", expected, ctx.message.native_finish)


def _choices_compared(ctx: Context) -> bool:
    return _compared(ctx) and bool((ctx.expect or {}).get("choices"))


@invariant(
    "semantic.choices",
    impact="breaks",
    hint="Forward every choice of an n > 1 stream under its own index, each with its content, tool calls and finish, never merging choices or dropping all but the first.",
    protocol=OPENAI_CHAT,
    applies=_choices_compared,
    evidence=[
        "https://github.com/openai/openai-openapi — n asks for that many choices, and each chunk's choice carries the index it belongs to",
        "https://github.com/openai/openai-python/blob/main/src/openai/lib/streaming/chat/_completions.py — the client keeps one snapshot per choice index",
        "https://github.com/BerriAI/litellm/issues/5236 — LiteLLM's proxy streamed every choice of an n > 1 request at index 0",
    ],
)
def choices_preserved(ctx: Context) -> Iterator[Violation]:
    """An OpenAI client receives every choice after the first with the capture's text, refusal, reasoning, tool calls and finish."""
    for expected in (ctx.expect or {})["choices"]:
        index = expected["index"]
        actual = ctx.message.choices.get(index)
        if actual is None:
            yield Violation(f"choice {index} was lost", expected, None, path=f"choices[{index}]")
            continue
        got = {
            "text": actual.text,
            "refusal": actual.refusal,
            "reasoning": actual.reasoning,
            "tool_calls": [{"name": call.name, "arguments": call.arguments} for call in actual.tool_calls],
            "finish": actual.finish,
        }
        for key, value in expected.items():
            if key == "index" or (key == "finish" and ctx.negative is not None):
                continue
            want = (
                [{"name": c["name"], "arguments": c.get("arguments")} for c in value] if key == "tool_calls" else value
            )
            if got[key] != want:
                yield Violation(f"choice {index}'s {key} differs", want, got[key], path=f"choices[{index}].{key}")
        for key in ("refusal", "reasoning", "tool_calls"):
            if key not in expected and got[key]:
                yield Violation(f"choice {index} gained {key}", None, got[key], path=f"choices[{index}].{key}")


def _carried(ctx: Context) -> bool:
    """The client's protocol carries server tools and citations, in the capture's shapes."""
    other_carrier = ctx.expect_protocol in _CARRIERS and ctx.expect_protocol != ctx.protocol
    return _compared(ctx) and ctx.protocol in _CARRIERS and not other_carrier


@invariant(
    "semantic.server-tools",
    impact="breaks",
    hint="Forward the blocks of tools the server ran (server_tool_use with its input, web_search_tool_result and the other results) to an Anthropic client, and their items (web_search_call with its action, …) to a Responses client, as they came, and never turn them into client tool calls.",
    applies=_carried,
    evidence=[
        "https://docs.claude.com/en/docs/agents-and-tools/tool-use/web-search-tool — a web search streams as a server_tool_use block and a web_search_tool_result block the client must keep to continue the conversation",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/types/raw_content_block_start_event.py — server_tool_use and the *_tool_result blocks are content blocks of their own",
        "https://github.com/experientiallabs/experiential/pull/690 — a gateway skipped server_tool_use blocks and then failed the stream at their first input_json_delta",
        "https://platform.openai.com/docs/api-reference/responses-streaming — a Responses web search streams as a web_search_call output item, with its own in_progress, searching and completed events",
    ],
)
def server_tools_preserved(ctx: Context) -> Iterator[Violation]:
    """An Anthropic or Responses client receives the capture's server-tool blocks or items in order, each with its type, id, and the name and input of a call (a Responses item's action)."""
    expected = list((ctx.expect or {}).get("server_tools", []))
    actual = [
        {key: block[key] for key in want if key in block}
        for block, want in zip(ctx.message.server_tools, expected, strict=False)
    ]
    actual += ctx.message.server_tools[len(expected) :]
    if actual != expected:
        yield Violation("server-tool blocks differ", expected, actual)


@invariant(
    "semantic.citations",
    impact="breaks",
    hint="Forward each citations_delta unchanged, in its text block, to an Anthropic client, and each annotation (response.output_text.annotation.added) unchanged to a Responses client.",
    applies=_carried,
    evidence=[
        "https://docs.claude.com/en/docs/build-with-claude/citations — citations stream as citations_delta events inside the text block they support",
        "https://docs.claude.com/en/docs/agents-and-tools/tool-use/web-search-tool — web search answers cite their sources with web_search_result_location citations",
        "https://github.com/stdapi-ai/stdapi.ai/issues/229 — a gateway's streamed Anthropic responses dropped the citations_delta events its non-streamed ones kept",
        "https://platform.openai.com/docs/api-reference/responses-streaming — a Responses stream adds each url_citation of a web search answer with response.output_text.annotation.added",
    ],
)
def citations_preserved(ctx: Context) -> Iterator[Violation]:
    """An Anthropic or Responses client receives the capture's citations (a Responses text's annotations), in order, unchanged."""
    expected = list((ctx.expect or {}).get("citations", []))
    actual = ctx.message.citations
    if actual != expected:
        pairs = zip(expected, actual, strict=False)
        at = next((n for n, (want, got) in enumerate(pairs) if want != got), min(len(expected), len(actual)))
        yield Violation(
            f"citations differ from citation {at} on ({len(expected)} expected, {len(actual)} received)",
            expected[at] if at < len(expected) else None,
            actual[at] if at < len(actual) else None,
            path=f"citations[{at}]",
        )


def _error_compared(ctx: Context) -> bool:
    return _negative(ctx) and bool((ctx.expect or {}).get("error")) and ctx.message.error is not None


@invariant(
    "semantic.error",
    impact="breaks",
    hint="Carry the upstream error's message into the client's error (adding context around it is fine), and its type and code unchanged when the client speaks the upstream's protocol.",
    applies=_error_compared,
    evidence=[
        "https://github.com/openai/openai-python/blob/main/src/openai/_streaming.py — openai-python raises APIError with the error frame's message",
        "https://docs.claude.com/en/api/errors — an Anthropic error names its type (overloaded_error, rate_limit_error, …), which tells a client whether to retry, and a message",
        "https://github.com/anthropics/anthropic-sdk-python/blob/main/src/anthropic/_streaming.py — anthropic-sdk-python raises on event: error with the error body, type included, as the exception's message",
        "https://openrouter.ai/docs/api-reference/streaming — a mid-stream error carries the provider's code and message",
        "https://github.com/OpenHands/OpenHands/issues/6942 — an overloaded_error that reached the client as a generic server error was not retried",
    ],
)
def error_preserved(ctx: Context) -> Iterator[Violation]:
    """The client's error carries the upstream's message, and its type and code when the client speaks the upstream's protocol."""
    expected = dict((ctx.expect or {})["error"])
    actual = ctx.message.error or {}
    if "message" in expected and str(expected["message"]) not in str(actual.get("message", "")):
        yield Violation(
            "the error's message was lost", expected["message"], actual.get("message"), path="error.message"
        )
    for key in ("type", "code") if ctx.same_protocol else ():
        if key in expected and actual.get(key) != expected[key]:
            yield Violation(f"the error's {key} differs", expected[key], actual.get(key), path=f"error.{key}")
