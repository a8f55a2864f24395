"""The whole pipeline, `check(build_context(...))`: correct streams, chunk independence, garbage.

- A correct stream from each vendor gets no "fail" from any invariant, whatever its impact, with the
  semantic invariants actually evaluated against the stream's `expect`.
- The verdicts do not depend on how the bytes were cut into reads (WIRE-FACTS S2, #32, #33).
- Garbage gives verdicts, never an exception, for both protocols.
- What `check` judges at all: an output with no event only by the invariants that judge silence, an
  error response by the whole-response checks (and, to a complete capture, not by its content).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from test_invariants import (
    AN_ERROR,
    AN_ERROR_EXPECT,
    AN_ERROR_RECORDED,
    AN_INPUT_ONLY_IN_DELTA,
    AN_TEXT,
    AN_TEXT_EXPECT,
    AN_THINKING,
    AN_THINKING_EXPECT,
    AN_TOOL,
    AN_TOOL_EXPECT,
    AN_TOOL_NO_ARGS,
    AN_TOOL_NO_ARGS_EXPECT,
    AN_WEB_SEARCH,
    AN_WEB_SEARCH_EXPECT,
    ANTHROPIC_REQUEST,
    AZURE_PLACEHOLDER,
    FORCED_TOOL_REQUEST,
    NEG_ERROR,
    OA_COPILOT_INDEX_1,
    OA_DEEPSEEK,
    OA_ERROR,
    OA_ERROR_EXPECT,
    OA_FORCED,
    OA_N3,
    OA_OPENROUTER_ERROR,
    OA_OPENROUTER_REASONING,
    OA_PARALLEL,
    OA_PARALLEL_ALL_INDEX_0,
    OA_PARALLEL_EXPECT,
    OA_QWEN_TOOL,
    OA_TEXT,
    OA_TEXT_EXPECT,
    OA_TEXT_NO_USAGE,
    OA_TOOL,
    OA_TOOL_EXPECT,
    OA_VLLM,
    OA_WHOLE,
    PLAIN_REQUEST,
    USAGE_REQUEST,
    cr_only,
    crlf,
    no_space,
    oa,
    oa_finish,
    oa_role,
    oa_text,
    openai,
    usage_of,
    with_comments,
)

from conformance.checks import build_context, check
from conformance.invariants import Verdict, evaluate, registry, select
from conformance.protocols import ANTHROPIC_MESSAGES as AN
from conformance.protocols import OPENAI_CHAT as OA
from conformance.schedules import split

OUTCOMES = {"pass", "fail", "skipped"}
"""What `evaluate` gives; grading (`conformance.attribution`) comes later, per item."""


def _not_passing(verdicts: list[Verdict], outcomes: tuple[str, ...] = ("fail",)) -> list[dict[str, Any]]:
    return [v.to_json() for v in verdicts if v.outcome in outcomes]


# ------------------------------------------------------------------------- correct streams

TEXT_NO_USAGE_EXPECT = {k: v for k, v in OA_TEXT_EXPECT.items() if k != "usage"}
FORCED_EXPECT = {**OA_TOOL_EXPECT, "usage": {"input_tokens": 70, "output_tokens": 9}}
N3_EXPECT = {"text": "Red", "tool_calls": [], "finish": "stop", "usage": {"input_tokens": 12, "output_tokens": 3}}

CORRECT = [
    pytest.param(OA_TEXT, OA, USAGE_REQUEST, OA_TEXT_EXPECT, id="openai-text-include-usage"),
    pytest.param(OA_TEXT_NO_USAGE, OA, PLAIN_REQUEST, TEXT_NO_USAGE_EXPECT, id="openai-text-no-usage"),
    pytest.param(OA_TOOL, OA, USAGE_REQUEST, OA_TOOL_EXPECT, id="openai-tool-call"),
    pytest.param(OA_PARALLEL, OA, USAGE_REQUEST, OA_PARALLEL_EXPECT, id="openai-parallel-tool-calls"),
    pytest.param(OA_FORCED, OA, FORCED_TOOL_REQUEST, FORCED_EXPECT, id="openai-forced-tool-choice-stop"),
    pytest.param(OA_WHOLE, OA, USAGE_REQUEST, FORCED_EXPECT, id="openai-tool-call-whole"),
    pytest.param(OA_N3, OA, {**USAGE_REQUEST, "n": 3}, N3_EXPECT, id="openai-n3"),
    pytest.param(crlf(OA_TEXT), OA, USAGE_REQUEST, OA_TEXT_EXPECT, id="openai-text-crlf"),
    pytest.param(
        with_comments(no_space(OA_TOOL)), OA, USAGE_REQUEST, OA_TOOL_EXPECT, id="openai-tool-comments-no-space"
    ),
    pytest.param(AN_TEXT, AN, ANTHROPIC_REQUEST, AN_TEXT_EXPECT, id="anthropic-text"),
    pytest.param(AN_TOOL, AN, ANTHROPIC_REQUEST, AN_TOOL_EXPECT, id="anthropic-tool-use"),
    pytest.param(AN_TOOL_NO_ARGS, AN, ANTHROPIC_REQUEST, AN_TOOL_NO_ARGS_EXPECT, id="anthropic-tool-no-args"),
    pytest.param(AN_THINKING, AN, ANTHROPIC_REQUEST, AN_THINKING_EXPECT, id="anthropic-thinking"),
    pytest.param(AN_WEB_SEARCH, AN, ANTHROPIC_REQUEST, AN_WEB_SEARCH_EXPECT, id="anthropic-web-search"),
    pytest.param(cr_only(AN_THINKING), AN, ANTHROPIC_REQUEST, AN_THINKING_EXPECT, id="anthropic-thinking-cr-only"),
]


@pytest.mark.parametrize(("raw", "protocol", "request_body", "expect"), CORRECT)
def test_correct_stream_has_no_failing_verdict(
    raw: bytes, protocol: str, request_body: dict[str, Any], expect: dict[str, Any]
) -> None:
    verdicts = check(build_context(raw, protocol, request=request_body, expect=expect))
    assert len(verdicts) == len(select(protocol))
    assert _not_passing(verdicts) == [], "\n" + json.dumps(_not_passing(verdicts), indent=1, ensure_ascii=False)
    evaluated = {v.invariant for v in verdicts if v.outcome == "pass"}
    assert {"semantic.text", "semantic.tool-calls", "semantic.finish", "semantic.clean-finish"} <= evaluated


@pytest.mark.parametrize(
    ("raw", "protocol", "expect"),
    [
        pytest.param(OA_ERROR, OA, OA_ERROR_EXPECT, id="openai-error-frame"),
        pytest.param(AN_ERROR, AN, AN_ERROR_EXPECT, id="anthropic-error-event"),
    ],
)
def test_upstream_error_passed_on_correctly_has_no_failing_verdict(
    raw: bytes, protocol: str, expect: dict[str, Any]
) -> None:
    request_body = USAGE_REQUEST if protocol == OA else ANTHROPIC_REQUEST
    verdicts = check(build_context(raw, protocol, request=request_body, expect=expect, negative=NEG_ERROR))
    assert _not_passing(verdicts) == [], "\n" + json.dumps(_not_passing(verdicts), indent=1, ensure_ascii=False)
    assert {v.invariant: v.outcome for v in verdicts}["semantic.error-surfaced"] == "pass"


def test_provider_quirks_fail_only_proxy_level_invariants() -> None:
    """DeepSeek's own stream (usage on the finish chunk) breaks only what a proxy must normalise."""
    verdicts = check(build_context(OA_DEEPSEEK, OA, request=USAGE_REQUEST))
    assert {v.invariant for v in verdicts if v.outcome == "fail"} == {"openai.usage.placement"}


def test_a_broken_stream_fails_the_invariants_it_breaks() -> None:
    verdicts = check(build_context(OA_PARALLEL_ALL_INDEX_0, OA, request=USAGE_REQUEST, expect=OA_PARALLEL_EXPECT))
    failing = {v.invariant for v in verdicts if v.outcome == "fail"}
    # Every call at index 0, each with its own id (Ollama's quirk): read by id, the content is whole,
    # but a proxy that emits it breaks the index rules and the official client, which merges the calls.
    assert failing == {"openai.tool.index-per-id", "openai.tool.header-once", "oracle.openai-python"}


# ---------------------------------------------------------------- provider-level invariants

XAI = {
    "object": "chat.completion.chunk",
    "created": 1761955200,
    "model": "grok-3-mini",
    "system_fingerprint": "fp_3e2c4b5a1d",
}
# xAI (§3): no finish_reason or logprobs key until the finish chunk, the call whole in one chunk, a choices:[] usage chunk.
OA_XAI = openai(
    {
        "id": "d1a7e0f3-xai",
        **XAI,
        "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "The user wants weather."}}],
        "usage": None,
    },
    {
        "id": "d1a7e0f3-xai",
        **XAI,
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "id": "call_74213519",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                            "index": 0,
                            "type": "function",
                        }
                    ]
                },
            }
        ],
        "usage": None,
    },
    {"id": "d1a7e0f3-xai", **XAI, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], "usage": None},
    {
        "id": "d1a7e0f3-xai",
        **XAI,
        "choices": [],
        "usage": {
            "prompt_tokens": 307,
            "completion_tokens": 26,
            "total_tokens": 560,
            "completion_tokens_details": {"reasoning_tokens": 227},
        },
    },
)
# Mistral (§3, §4): parallel tool calls with no index and no type, whole in the finish chunk with usage.
OA_MISTRAL = openai(
    oa_role(None),
    oa({"tool_calls": [
        {"id": "Xq3vT9mLp", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "Bk7wQ2nRs", "function": {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}},
    ]}, "tool_calls", usage=usage_of(84, 22)),
)  # fmt: skip
PROVIDER_STREAMS = [
    pytest.param(OA_DEEPSEEK, OA, id="deepseek-reasoner"),
    pytest.param(OA_OPENROUTER_REASONING, OA, id="openrouter-reasoning-details"),
    pytest.param(OA_OPENROUTER_ERROR, OA, id="openrouter-mid-stream-error"),
    pytest.param(OA_QWEN_TOOL, OA, id="qwen-empty-id-continuation"),
    pytest.param(OA_COPILOT_INDEX_1, OA, id="copilot-claude-index-1"),
    pytest.param(
        openai(AZURE_PLACEHOLDER, oa_role(), oa_text("Hi"), oa_finish("stop")), OA, id="azure-placeholder-chunk"
    ),
    pytest.param(OA_VLLM, OA, id="vllm-reasoning"),
    pytest.param(OA_XAI, OA, id="xai-no-finish-key"),
    pytest.param(OA_WHOLE, OA, id="groq-whole-call"),
    pytest.param(OA_MISTRAL, OA, id="mistral-call-without-index"),
    pytest.param(AN_INPUT_ONLY_IN_DELTA, AN, id="anthropic-compatible-input-tokens-in-delta"),
    pytest.param(AN_ERROR_RECORDED, AN, id="anthropic-recorded-error"),
]


@pytest.mark.parametrize(("raw", "protocol"), PROVIDER_STREAMS)
def test_real_provider_streams_pass_every_provider_level_invariant(raw: bytes, protocol: str) -> None:
    """What corpus lint demands of a capture: its own stream meets every `provider`-level invariant."""
    verdicts = check(
        build_context(raw, protocol, request=PLAIN_REQUEST if protocol == OA else ANTHROPIC_REQUEST),
        [inv for inv in select(protocol) if inv.level == "provider"],
    )
    assert _not_passing(verdicts, ("fail",)) == [], "\n" + json.dumps(
        _not_passing(verdicts, ("fail",)), indent=1, ensure_ascii=False
    )


# ------------------------------------------------------------------------------- chunkings

SCHEDULES = ("event", "line", "byte", "adversarial", "random-1", "random-3", "random-7")
LATIN1 = OA_TEXT.replace(b"Hello", "Héllo".encode("latin-1"))
CHUNKED = [
    pytest.param(OA_TEXT, OA, USAGE_REQUEST, OA_TEXT_EXPECT, id="openai-text"),
    pytest.param(crlf(OA_TOOL), OA, USAGE_REQUEST, OA_TOOL_EXPECT, id="openai-tool-crlf"),
    pytest.param(cr_only(OA_DEEPSEEK), OA, PLAIN_REQUEST, None, id="openai-deepseek-cr-only"),
    pytest.param(OA_PARALLEL_ALL_INDEX_0, OA, USAGE_REQUEST, OA_PARALLEL_EXPECT, id="openai-broken-parallel"),
    pytest.param(LATIN1, OA, USAGE_REQUEST, OA_TEXT_EXPECT, id="openai-invalid-utf8"),
    pytest.param(OA_TEXT[:-1], OA, USAGE_REQUEST, OA_TEXT_EXPECT, id="openai-unterminated"),
    pytest.param(AN_THINKING, AN, ANTHROPIC_REQUEST, AN_THINKING_EXPECT, id="anthropic-thinking-multibyte"),
    pytest.param(crlf(AN_WEB_SEARCH), AN, ANTHROPIC_REQUEST, AN_WEB_SEARCH_EXPECT, id="anthropic-web-search-crlf"),
    pytest.param(with_comments(AN_TOOL), AN, ANTHROPIC_REQUEST, AN_TOOL_EXPECT, id="anthropic-tool-comments"),
    pytest.param(AN_TEXT + b"data: [DONE]\n\n", AN, ANTHROPIC_REQUEST, AN_TEXT_EXPECT, id="anthropic-broken-done"),
    pytest.param(b"\xef\xbb\xbf" + AN_TEXT, AN, ANTHROPIC_REQUEST, AN_TEXT_EXPECT, id="anthropic-bom"),
]


def _verdicts(
    raw: bytes,
    protocol: str,
    request_body: dict[str, Any],
    expect: dict[str, Any] | None,
    chunks: list[bytes] | None = None,
) -> list[dict[str, Any]]:
    return [
        v.to_json() for v in check(build_context(raw, protocol, chunks=chunks, request=request_body, expect=expect))
    ]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("raw", "protocol", "request_body", "expect"), CHUNKED)
def test_verdicts_do_not_depend_on_chunking(
    raw: bytes, protocol: str, request_body: dict[str, Any], expect: dict[str, Any] | None, schedule: str
) -> None:
    whole = _verdicts(raw, protocol, request_body, expect)
    pieces = split(raw, schedule)
    assert b"".join(pieces) == raw
    assert _verdicts(raw, protocol, request_body, expect, chunks=pieces) == whole


def test_chunking_splitting_every_crlf_and_every_utf8_sequence() -> None:
    raw = crlf(AN_THINKING)
    whole = build_context(raw, AN, expect=AN_THINKING_EXPECT)
    # Cut after every byte that is a CR or a UTF-8 lead byte: each CRLF and each multibyte char straddles reads.
    cuts = [i + 1 for i, byte in enumerate(raw) if byte == 0x0D or byte >= 0xC0]
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    cut = build_context(raw, AN, chunks=pieces, expect=AN_THINKING_EXPECT)
    assert cut.events == whole.events
    assert [v.to_json() for v in check(cut)] == [v.to_json() for v in check(whole)]
    assert cut.message.to_json() == whole.message.to_json()


# ---------------------------------------------------------------------------------- garbage


def _random_bytes(seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))


def _sse_like_noise(seed: int) -> bytes:
    """Random fragments of SSE and JSON syntax, so the parser and the views see plausible junk."""
    rng = random.Random(seed)
    atoms = [b"data: ", b"data:", b"event: ", b"id: 1", b": c", b"\n", b"\r\n", b"\r", b"{", b"}", b"[", b"]", b'"type"', b":", b",",
             b'"content_block_start"', b'"choices"', b'"delta"', b"[DONE]", b"null", b"0", b"-1", b'"index"', b"\xff", b"\xe2\x82", b"\xef\xbb\xbf"]  # fmt: skip
    return b"".join(rng.choice(atoms) for _ in range(rng.randrange(1, 400)))


def _truncations(raw: bytes, step: int) -> list[bytes]:
    return [raw[:end] for end in range(0, len(raw), step)]


GARBAGE: list[Any] = [
    pytest.param(b"", id="empty-body"),
    pytest.param(b"\n\n\n", id="blank-lines"),
    pytest.param(b"\r", id="lone-cr"),
    pytest.param(b"\xef\xbb", id="half-a-bom"),
    pytest.param(b'data: {"choices":[{"delta":{"content":"Hel\n\n', id="truncated-json-openai"),
    pytest.param(
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de\n\n',
        id="truncated-json-anthropic",
    ),
    pytest.param(b"<html><body>502 Bad Gateway</body></html>", id="html-error-page"),
    pytest.param(b'{"error":{"type":"overloaded_error","message":"Overloaded"}}', id="json-body-not-sse"),
    pytest.param(b'data: null\n\ndata: 42\n\ndata: "x"\n\ndata: []\n\ndata: {}\n\ndata: [DONE]\n\n', id="json-scalars"),
    pytest.param(b"data: " + b"[" * 5000 + b"\n\n", id="deep-nesting-prefix"),
    pytest.param(
        b'event: message_start\ndata: {}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta"}\n\n',
        id="anthropic-empty-objects",
    ),
    *[pytest.param(_random_bytes(seed), id=f"random-binary-{seed}") for seed in range(8)],
    *[pytest.param(_sse_like_noise(seed), id=f"sse-like-noise-{seed}") for seed in range(8)],
]

# Valid JSON in the wrong shape: every field a client reads, given the wrong type.
TYPE_CONFUSED: list[Any] = [
    pytest.param(
        b'data: {"choices":"x"}\n\ndata: {"choices":[1,null,"a"]}\n\ndata: [DONE]\n\n', id="openai-choices-wrong-type"
    ),
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":"x","finish_reason":7}]}\n\ndata: [DONE]\n\n', id="openai-delta-a-string"
    ),
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":{"content":5,"refusal":[],"reasoning_content":{}}}]}\n\ndata: [DONE]\n\n',
        id="openai-content-wrong-types",
    ),
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[1,"x",{"index":"0","function":"f"}]}}]}\n\ndata: [DONE]\n\n',
        id="openai-tool-calls-items-wrong-type",
    ),
    pytest.param(
        b'data: {"choices":[],"usage":"lots"}\n\ndata: {"error":true}\n\n', id="openai-usage-and-error-wrong-type"
    ),
    pytest.param(
        b'event: message_start\ndata: {"type":"message_start","message":5}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":"x"}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":"x"}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":[],"usage":7}\n\n',
        id="anthropic-payloads-wrong-type",
    ),
    pytest.param(
        b'event: content_block_start\ndata: {"type":"content_block_start","index":"0","content_block":{"type":7}}\n\nevent: error\ndata: {"type":"error","error":"boom"}\n\n',
        id="anthropic-index-and-error-wrong-type",
    ),
]

# Found by fuzzing field types: each once raised TypeError instead of giving verdicts.
CRASHING: list[Any] = [
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":7}}]}\n\ndata: [DONE]\n\n', id="openai-tool-calls-an-int"
    ),
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":["stop"]}]}\n\ndata: [DONE]\n\n',
        id="openai-finish-reason-a-list",
    ),
    pytest.param(
        b'data: {"choices":[{"index":[0],"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n',
        id="openai-choice-index-a-list",
    ),
    pytest.param(
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":{},"id":"c","function":{"name":"f"}}]}}]}\n\ndata: [DONE]\n\n',
        id="openai-tool-index-an-object",
    ),
    pytest.param(
        b'event: content_block_start\ndata: {"type":"content_block_start","index":[],"content_block":{"type":"text","text":""}}\n\n',
        id="anthropic-index-a-list",
    ),
    pytest.param(
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":[]}}\n\n',
        id="anthropic-delta-type-a-list",
    ),
    pytest.param(
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":["end_turn"]},"usage":{"output_tokens":1}}\n\n',
        id="anthropic-stop-reason-a-list",
    ),
]


def _assert_verdicts(raw: bytes, protocol: str) -> None:
    contexts = [
        build_context(raw, protocol),
        build_context(
            raw, protocol, request=USAGE_REQUEST, expect=OA_TEXT_EXPECT if protocol == OA else AN_TEXT_EXPECT
        ),
        build_context(raw, protocol, expect=OA_ERROR_EXPECT, negative=NEG_ERROR),
        build_context(raw, protocol, chunks=split(raw, "adversarial")),
    ]
    for ctx in contexts:
        verdicts = check(ctx)
        assert len(verdicts) == len(select(protocol))
        assert {v.outcome for v in verdicts} <= OUTCOMES
        for verdict in verdicts:
            json.dumps(verdict.to_json())  # reports serialise every verdict
            if verdict.outcome == "fail":
                assert verdict.violations and verdict.reason


@pytest.mark.parametrize("protocol", [OA, AN])
@pytest.mark.parametrize("raw", GARBAGE + TYPE_CONFUSED)
def test_garbage_gives_verdicts_not_exceptions(raw: bytes, protocol: str) -> None:
    _assert_verdicts(raw, protocol)


@pytest.mark.parametrize("raw", CRASHING)
def test_type_confused_fields_give_verdicts_not_exceptions(raw: bytes, request: pytest.FixtureRequest) -> None:
    protocol = OA if request.node.callspec.id.startswith("openai") else AN
    _assert_verdicts(raw, protocol)
    other = AN if protocol == OA else OA
    _assert_verdicts(raw, other)


@pytest.mark.parametrize("protocol", [OA, AN])
@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("openai-text", OA_TEXT),
        ("openai-tool", OA_TOOL),
        ("anthropic-thinking", AN_THINKING),
        ("anthropic-web-search", AN_WEB_SEARCH),
    ],
)
def test_every_truncation_gives_verdicts(name: str, stream: bytes, protocol: str) -> None:
    for raw in _truncations(stream, 7):
        _assert_verdicts(raw, protocol)


def test_garbage_is_flagged() -> None:
    """Garbage is not only survived but failed: an empty body and random binary fail framing."""
    for protocol in (OA, AN):
        empty = {v.invariant: v.outcome for v in check(build_context(b"", protocol))}
        assert empty["sse.has-events"] == "fail"
        noise = {v.invariant: v.outcome for v in check(build_context(_random_bytes(1), protocol))}
        assert "fail" in noise.values()


# --------------------------------------------------------------------- what check judges at all

SILENCE_JUDGES = {"sse.has-events", "semantic.clean-finish", "semantic.error-surfaced"}
ORACLE = {OA: "oracle.openai-python", AN: "oracle.anthropic-python"}


def test_the_invariants_that_judge_silence() -> None:
    assert {inv.id for inv in registry().values() if inv.judges_silence} == SILENCE_JUDGES


@pytest.mark.parametrize("protocol", [OA, AN])
@pytest.mark.parametrize(
    "raw", [b"", b"\n\n", b": keep-alive\n\n", b"<html>502</html>", b"data: {}"], ids=lambda raw: repr(raw)[2:-1]
)
def test_an_output_with_no_event_is_judged_only_by_the_invariants_that_judge_silence(raw: bytes, protocol: str) -> None:
    """Nothing to judge is not a pass: every other invariant is skipped, saying why."""
    expect = OA_TEXT_EXPECT if protocol == OA else AN_TEXT_EXPECT
    ctx = build_context(raw, protocol, request=USAGE_REQUEST, expect=expect)
    assert ctx.events == []
    verdicts = check(ctx)
    assert [v.invariant for v in verdicts] == [inv.id for inv in select(protocol)]
    judged = {v.invariant: v.outcome for v in verdicts if v.invariant in SILENCE_JUDGES}
    assert judged == {"sse.has-events": "fail", "semantic.clean-finish": "fail", "semantic.error-surfaced": "skipped"}
    others = [v for v in verdicts if v.invariant not in SILENCE_JUDGES]
    assert others and all(
        v.outcome == "skipped" and v.reason == "the output carries no event to judge" for v in others
    ), [v.to_json() for v in others if v.outcome != "skipped"]
    # The same output as a broken upstream's: silence hides the error, and error-surfaced says so.
    broken = {v.invariant: v.outcome for v in check(build_context(raw, protocol, expect=expect, negative=NEG_ERROR))}
    assert broken["semantic.error-surfaced"] == "fail"


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        (OA, b'{"error": {"message": "Upstream provider unavailable", "type": "server_error", "code": 502}}'),
        (AN, b'{"type": "error", "error": {"type": "api_error", "message": "Upstream provider unavailable"}}'),
    ],
    ids=[OA, AN],
)
def test_an_error_response_is_judged_as_a_whole_response(protocol: str, body: bytes) -> None:
    """To a complete capture, an error response holds none of its content: the content checks are
    skipped; the clean finish it owed, the error body and the client's reading of it are judged.
    To a broken upstream's capture, it is the error the client must get."""
    expect = {**(OA_TEXT_EXPECT if protocol == OA else AN_TEXT_EXPECT), "text": "Hi", "finish": "stop"}
    whole = ("semantic.", "http.", "oracle.")
    chosen = [inv.id for inv in select(protocol) if inv.id.startswith(whole)]
    complete = {v.invariant: v for v in check(build_context(body, protocol, expect=expect, status=502))}
    assert list(complete) == chosen
    content = [name for name in chosen if name.startswith("semantic.") and name not in SILENCE_JUDGES]
    assert content and all(
        complete[name].outcome == "skipped" and complete[name].reason == "the output carries no event to judge"
        for name in content
    )
    assert complete["semantic.clean-finish"].outcome == "fail"
    assert complete[ORACLE[protocol]].outcome == "fail"
    assert complete["http.error-body"].outcome == "pass"
    broken = {
        v.invariant: v.outcome
        for v in check(
            build_context(body, protocol, expect={"text": "", "finish": None}, negative=NEG_ERROR, status=502)
        )
    }
    assert list(broken) == chosen
    assert broken["semantic.error-surfaced"] == broken[ORACLE[protocol]] == broken["http.error-body"] == "pass"
    assert "fail" not in broken.values(), broken


def _custom_tool_call_stream(arguments: str) -> bytes:
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "apply_patch", "arguments": ""}}
        ]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]  # fmt: skip
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return b"".join(f"data: {json.dumps({**base, **chunk})}\n\n".encode() for chunk in chunks) + b"data: [DONE]\n\n"


def test_a_declared_custom_tool_takes_free_form_arguments() -> None:
    patch = "*** Begin Patch\n*** End Patch\n"
    declared = {"tools": [{"type": "custom", "custom": {"name": "apply_patch"}}]}
    inv = registry()["openai.tool.arguments-json"]
    assert evaluate(inv, build_context(_custom_tool_call_stream(patch), OA, request=declared)).outcome == "pass"
    # The same text for a function tool, or an undeclared one, is not JSON: a client that parses it raises.
    function = {"tools": [{"type": "function", "function": {"name": "apply_patch", "parameters": {}}}]}
    assert evaluate(inv, build_context(_custom_tool_call_stream(patch), OA, request=function)).outcome == "fail"
    assert evaluate(inv, build_context(_custom_tool_call_stream(patch), OA)).outcome == "fail"
