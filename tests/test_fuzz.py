"""The harness itself under bad input: fuzzing the SSE parser and every protocol's checks.

Whatever bytes a target writes, the only outcomes are verdicts: never an uncaught exception,
never a hang. Hypothesis feeds (a) arbitrary bytes and (b) plausible-but-wrong event sequences
(OpenAI chunks and Anthropic events with random JSON in every field position, random event names,
orderings, block indices, huge, deep and non-ASCII values, random read splits) through
`build_context` + `check` for both protocols, alone and against an `expect`, a `negative`, an
error status and an aborted ending. Each example must finish within `_EXAMPLE_SECONDS`.

Every input fuzzing ever found crashing or hanging is kept in `tests/fuzz-regressions/` (a `.bin`
stream and a `.json` naming the protocol and the bug) and replayed by `test_regression_corpus`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_invariants import (
    AN_ERROR_EXPECT,
    AN_TEXT_EXPECT,
    AN_THINKING_EXPECT,
    AN_TOOL_EXPECT,
    NEG_CUT,
    NEG_ERROR,
    OA_ERROR_EXPECT,
    OA_TEXT_EXPECT,
    OA_TOOL_EXPECT,
    USAGE_REQUEST,
)

from conformance.checks import build_context, check
from conformance.invariants import select
from conformance.protocols import ANTHROPIC_MESSAGES as AN
from conformance.protocols import OPENAI_CHAT as OA
from conformance.schedules import split
from conformance.sse import OBSERVATION_KINDS, SSEParser, parse

PROTOCOLS = (OA, AN)
OUTCOMES = {"pass", "fail", "skipped"}
REGRESSIONS = Path(__file__).parent / "fuzz-regressions"

_EXAMPLE_SECONDS = 2.0
"""A single example (every context of one input, oracles included) must finish within this."""

# Bounded so the whole file runs well under a minute; no database, so CI is reproducible.
_SCALE = float(os.environ.get("CONFORMANCE_FUZZ_SCALE", "1"))
"""Multiply every test's example budget, for a long fuzzing session: CONFORMANCE_FUZZ_SCALE=50."""
_FAST = settings(
    max_examples=int(100 * _SCALE),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_SLOW = settings(
    max_examples=int(20 * _SCALE),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(Exception):
    """An example ran past its time bound."""


@contextmanager
def time_bound(seconds: float = _EXAMPLE_SECONDS) -> Iterator[None]:
    """Fail an example that runs longer than `seconds`: SIGALRM interrupts a hang in Python code,
    and the elapsed time is checked afterwards too, for a wait the signal could not interrupt."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"example did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"example took {elapsed:.2f} s (bound {seconds:g} s)"


def assert_verdicts(raw: bytes, protocol: str, *, chunks: list[bytes] | None = None, **options: Any) -> None:
    """Every invariant gives a well-formed, JSON-serialisable verdict for `raw`; nothing raises."""
    ctx = build_context(raw, protocol, chunks=chunks, **options)
    verdicts = check(ctx)
    expected = select(protocol)
    if ctx.status >= 300:
        expected = [inv for inv in expected if inv.id.startswith(("semantic.", "http.", "oracle."))]
    assert [v.invariant for v in verdicts] == [inv.id for inv in expected]
    # Nothing to judge is skipped, never passed: an output with no event is judged only by the
    # invariants that judge silence, and an error response to a complete capture holds none of its content.
    if ctx.status < 300 and not ctx.events:
        unjudged = {inv.id for inv in expected if not inv.judges_silence}
    elif ctx.status >= 300 and ctx.negative is None:
        unjudged = {inv.id for inv in expected if inv.id.startswith("semantic.") and not inv.judges_silence}
    else:
        unjudged = set()
    for verdict in verdicts:
        assert verdict.outcome in OUTCOMES, verdict
        if verdict.outcome == "fail":
            assert verdict.violations and verdict.reason, verdict
        if verdict.invariant in unjudged:
            assert verdict.outcome == "skipped", verdict
        json.dumps(verdict.to_json(), allow_nan=False, default=_no_default)


def _no_default(value: Any) -> Any:
    raise TypeError(f"verdict holds a value JSON cannot carry: {type(value).__name__} {value!r:.80}")


_EXPECTS = {
    OA: (OA_TEXT_EXPECT, OA_TOOL_EXPECT, OA_ERROR_EXPECT),
    AN: (AN_TEXT_EXPECT, AN_TOOL_EXPECT, AN_THINKING_EXPECT, AN_ERROR_EXPECT),
}


def variants(protocol: str) -> list[dict[str, Any]]:
    """The ways a stream is checked: alone; against an `expect`; as a broken upstream's output; as
    an error response, to a broken upstream and to a complete capture; with usage not requested; and
    as a response the target aborted, to a broken upstream and to a complete capture."""
    return [
        {},
        {"request": USAGE_REQUEST, "expect": _EXPECTS[protocol][0]},
        {"expect": _EXPECTS[protocol][-1], "negative": NEG_ERROR},
        {"status": 502, "expect": _EXPECTS[protocol][-1], "negative": NEG_CUT},
        {"usage_requested": False},
        {"status": 502, "request": USAGE_REQUEST, "expect": _EXPECTS[protocol][0]},
        {"ending": "aborted", "expect": _EXPECTS[protocol][-1], "negative": NEG_CUT},
        {"ending": "aborted", "request": USAGE_REQUEST, "expect": _EXPECTS[protocol][1]},
    ]


_OPTIONS = st.sampled_from(range(len(variants(OA))))


@pytest.fixture(scope="module", autouse=True)
def _oracles_imported() -> None:
    """The oracles import the SDKs on first use (about a second): do it before any example is timed."""
    for protocol in PROTOCOLS:
        check(build_context(b"data: {}\n\n", protocol, expect=_EXPECTS[protocol][0]))


def run_all(raw: bytes, chunks: list[bytes] | None, option: int | None = None) -> None:
    """Check `raw` for both protocols, in one variant (`option`) or in every one."""
    with time_bound(_EXAMPLE_SECONDS * (1 if option is not None else len(variants(OA)))):
        for protocol in PROTOCOLS:
            chosen = variants(protocol) if option is None else [variants(protocol)[option]]
            for opts in chosen:
                assert_verdicts(raw, protocol, chunks=chunks, **opts)


# --- strategies ---------------------------------------------------------------------------

FIELD_NAMES = [
    "id", "object", "created", "model", "choices", "usage", "error", "index", "delta", "finish_reason", "role", "content", "refusal",
    "reasoning_content", "reasoning", "thinking", "tool_calls", "function", "name", "arguments", "type", "logprobs", "message",
    "content_block", "text", "partial_json", "signature", "stop_reason", "stop_sequence", "input", "input_tokens", "output_tokens",
    "prompt_tokens", "completion_tokens", "total_tokens", "system_fingerprint", "tool_use_id", "data",
]  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "0",
            "stop",
            "tool_calls",
            "end_turn",
            "tool_use",
            "[DONE]",
            "\x00",
            "\ud7ff\ue000",
            "é☃🌍",
            "\u2028",
            "text",
            "text_delta",
        ]
    ),
)
_keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=20,
)


def deep(depth: int) -> Any:
    value: Any = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


# Values that stress the checks by size or shape rather than by type.
extreme_values = st.one_of(
    st.integers(min_value=1, max_value=900).map(deep),
    st.sampled_from(
        [
            "x" * 100_000,
            "🌍" * 5_000,
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            10**300,
            -(2**63),
            2**64,
            1e308,
            -0.0,
        ]
    ),
    st.lists(st.integers(), min_size=200, max_size=400),
)


def field(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: usually plausible, sometimes any JSON value, sometimes an extreme one."""
    return st.one_of(plausible, plausible, plausible, json_values, extreme_values)


def obj(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with a random subset of `fields` (each a plausible-or-wrong value), maybe a stray key."""
    return st.fixed_dictionaries({}, optional={name: field(value) for name, value in fields.items()}).flatmap(
        lambda d: st.one_of(
            st.just(d), st.dictionaries(_keys, json_values, max_size=2).map(lambda extra: {**extra, **d})
        )
    )


small_index = st.integers(min_value=-1, max_value=4)
# Text fields carry fragments that get concatenated and parsed as JSON: nesting deeper than the
# parser's recursion limit, NaN and overflowing numbers among them.
nested_text = st.tuples(st.integers(1, 60_000), st.sampled_from("[{")).map(
    lambda t: t[1] * t[0] if t[1] == "[" else '{"a":' * t[0]
)
some_text = st.one_of(
    st.sampled_from(["", "Hel", "lo", '{"city":', '"Paris"}', "é", "\ud83c", '{"a":NaN}', "[1e400]", "-Infinity"]),
    st.text(max_size=12),
    nested_text,
)

oa_tool_call = obj({"index": small_index, "id": st.sampled_from(["call_a", "call_b", ""]), "type": st.just("function"),
                    "function": obj({"name": st.sampled_from(["get_weather", "f", ""]), "arguments": some_text})})  # fmt: skip
oa_delta = obj({"role": st.sampled_from(["assistant", "user", None]), "content": st.one_of(st.none(), some_text), "refusal": st.one_of(st.none(), some_text),
                "reasoning_content": some_text, "reasoning": some_text, "tool_calls": st.lists(oa_tool_call, max_size=3)})  # fmt: skip
oa_choice = obj({"index": small_index, "delta": oa_delta, "logprobs": st.none(),
                 "finish_reason": st.sampled_from([None, "stop", "length", "tool_calls", "content_filter", "function_call", "weird"])})  # fmt: skip
oa_usage = obj(
    {
        "prompt_tokens": st.integers(-1, 100),
        "completion_tokens": st.integers(-1, 100),
        "total_tokens": st.integers(-1, 200),
    }
)
oa_chunk = obj({
    "id": st.sampled_from(["chatcmpl-1", "chatcmpl-2", ""]), "object": st.sampled_from(["chat.completion.chunk", "chat.completion", "x"]),
    "created": st.integers(0, 2**32), "model": st.sampled_from(["gpt-4.1", ""]), "choices": st.lists(oa_choice, max_size=3),
    "usage": st.one_of(st.none(), oa_usage), "error": obj({"message": some_text, "type": st.sampled_from(["server_error", "x"]), "code": json_values}),
})  # fmt: skip

AN_TYPES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
]
an_usage = obj(
    {
        "input_tokens": st.integers(-1, 100),
        "output_tokens": st.integers(-1, 100),
        "cache_read_input_tokens": st.integers(0, 9),
    }
)
an_block = obj({
    "type": st.sampled_from(["text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "web_search_tool_result", "image", "x"]),
    "text": some_text, "thinking": some_text, "signature": some_text, "id": st.sampled_from(["toolu_a", "srvtoolu_b", ""]),
    "name": st.sampled_from(["get_weather", "web_search", ""]), "input": st.one_of(st.just({}), json_values), "data": some_text,
    "tool_use_id": st.sampled_from(["srvtoolu_b", ""]), "content": json_values,
})  # fmt: skip
an_delta = obj({
    "type": st.sampled_from(["text_delta", "input_json_delta", "thinking_delta", "signature_delta", "citations_delta", "x"]),
    "text": some_text, "partial_json": some_text, "thinking": some_text, "signature": some_text,
    "stop_reason": st.sampled_from([None, "end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal", "pause_turn", "x"]), "stop_sequence": st.none(),
})  # fmt: skip
an_message = obj({"id": st.just("msg_1"), "type": st.just("message"), "role": st.sampled_from(["assistant", "user"]), "content": st.lists(an_block, max_size=2),
                  "model": st.just("claude"), "stop_reason": st.none(), "usage": an_usage})  # fmt: skip
an_event = obj({
    "type": st.one_of(st.sampled_from(AN_TYPES), st.text(max_size=10)), "index": small_index, "message": an_message,
    "content_block": an_block, "delta": an_delta, "usage": an_usage, "error": obj({"type": st.sampled_from(["overloaded_error", "x"]), "message": some_text}),
})  # fmt: skip

line_ending = st.sampled_from([b"\n", b"\r\n", b"\r"])


@st.composite
def encoded_event(draw: st.DrawFn, payload: st.SearchStrategy[Any]) -> bytes:
    """One event on the wire: an optional `event:` line (matching the payload's type, or random),
    `data:` lines (JSON, or not), comments, stray fields, any line ending; maybe no blank line."""
    value = draw(payload)
    end = draw(line_ending)
    lines: list[bytes] = []
    if draw(st.booleans()):
        lines.append(b": " + draw(st.binary(max_size=8)).replace(b"\n", b"").replace(b"\r", b""))
    kind = draw(
        st.one_of(
            st.none(),
            st.just(value.get("type") if isinstance(value, dict) else None),
            st.sampled_from(AN_TYPES),
            st.text(max_size=8),
        )
    )
    if isinstance(kind, str):
        lines.append(b"event: " + kind.encode("utf-8", "surrogatepass").replace(b"\n", b"").replace(b"\r", b""))
    form = draw(st.sampled_from(["json", "json", "json", "indented", "done", "junk", "no-space"]))
    if form == "done":
        data = [b"[DONE]"]
    elif form == "junk":
        data = [draw(st.binary(max_size=40)).replace(b"\n", b"").replace(b"\r", b"")]
    else:
        text = json.dumps(value, indent=1 if form == "indented" else None, ensure_ascii=draw(st.booleans()))
        data = text.encode("utf-8", "surrogatepass").split(b"\n")
    prefix = b"data:" if form == "no-space" else b"data: "
    lines += [prefix + line for line in data]
    if draw(st.integers(0, 9)) == 0:
        lines.insert(
            draw(st.integers(0, len(lines))),
            draw(st.sampled_from([b"id: 1", b"retry: x", b"retry: 10", b"foo: bar", b"data", b"id: a\x00b"])),
        )
    terminated = draw(st.integers(0, 14)) != 0
    return end.join(lines) + end + (end if terminated else b"")


def stream_of(payload: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    prefix = st.sampled_from([b"", b"", b"\xef\xbb\xbf", b": OPENROUTER PROCESSING\n\n"])
    done = st.sampled_from([b"", b"data: [DONE]\n\n", b'event: message_stop\ndata: {"type":"message_stop"}\n\n'])
    return st.tuples(prefix, st.lists(encoded_event(payload), max_size=12), done).map(
        lambda p: p[0] + b"".join(p[1]) + p[2]
    )


openai_streams = stream_of(oa_chunk)
anthropic_streams = stream_of(an_event)
mixed_streams = stream_of(st.one_of(oa_chunk, an_event, json_values))


@st.composite
def splits(draw: st.DrawFn, raw: bytes) -> list[bytes] | None:
    """None (the whole body as one read) or the body cut at random offsets, empty reads included."""
    if not raw or draw(st.booleans()):
        return None
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


def with_splits(streams: st.SearchStrategy[bytes]) -> st.SearchStrategy[tuple[bytes, list[bytes] | None]]:
    return streams.flatmap(lambda raw: st.tuples(st.just(raw), splits(raw)))


# --- the SSE parser -----------------------------------------------------------------------


@_FAST
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=20))
@example(b"\xef\xbb", [1])
@example(b"\r", [0, 1])
@example(b"data: a\r", [8])
def test_parser_survives_any_bytes_in_any_split(raw: bytes, cuts: list[int]) -> None:
    cuts = sorted(min(c, len(raw)) for c in cuts)
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    with time_bound():
        whole = parse(raw)
        split = parse(chunks)
    assert split == whole
    events, observations = whole
    assert all(o.kind in OBSERVATION_KINDS for o in observations)
    assert all(0 <= e.start <= e.end <= len(raw) for e in events)
    assert all(0 <= o.offset <= len(raw) and o.count >= 1 for o in observations)


def test_parser_refuses_feed_after_close() -> None:
    parser = SSEParser()
    parser.feed(b"data: a\n\n")
    assert parser.close() == [] and parser.close() == []
    with pytest.raises(ValueError):
        parser.feed(b"x")


# --- the checks -------------------------------------------------------------------------------


@_FAST
@given(st.one_of(st.binary(max_size=1500), nested_text.map(str.encode)), _OPTIONS)
@example(b"", 0)
@example(b"data: " + b"[" * 5000 + b"\n\n", 0)
def test_checks_survive_arbitrary_bytes(raw: bytes, option: int) -> None:
    run_all(raw, None, option)


@_FAST
@given(with_splits(openai_streams), _OPTIONS)
def test_checks_survive_wrong_openai_chunks(stream: tuple[bytes, list[bytes] | None], option: int) -> None:
    run_all(*stream, option)


@_FAST
@given(with_splits(anthropic_streams), _OPTIONS)
def test_checks_survive_wrong_anthropic_events(stream: tuple[bytes, list[bytes] | None], option: int) -> None:
    run_all(*stream, option)


@_SLOW
@given(with_splits(mixed_streams))
def test_checks_survive_mixed_events_in_every_variant(stream: tuple[bytes, list[bytes] | None]) -> None:
    """Events of either protocol and bare JSON values, in any order, checked in every variant."""
    run_all(*stream)


@_SLOW
@given(st.lists(st.one_of(oa_chunk, an_event, json_values, extreme_values), max_size=6))
def test_checks_survive_any_json_payloads(payloads: list[Any]) -> None:
    raw = b"".join(b"data: " + json.dumps(p).encode("utf-8", "surrogatepass") + b"\n\n" for p in payloads)
    run_all(raw, None)


def test_nan_and_infinity_are_not_valid_json_but_still_give_verdicts() -> None:
    """Python's json accepts NaN and Infinity; the verdicts must still serialise as strict JSON."""
    raw = b'data: {"choices":[{"index":NaN,"delta":{"content":"x"},"finish_reason":Infinity}],"usage":{"prompt_tokens":-Infinity}}\n\n'
    raw += b'event: content_block_start\ndata: {"type":"content_block_start","index":NaN,"content_block":{"type":"text","text":""}}\n\n'
    run_all(raw, None)


# --- the regression corpus ----------------------------------------------------------------


def _regressions() -> list[Any]:
    params = []
    for meta in sorted(REGRESSIONS.glob("*.json")):
        params.append(
            pytest.param(meta.with_suffix(".bin"), json.loads(meta.read_text(encoding="utf-8")), id=meta.stem)
        )
    return params


def test_regression_corpus_is_well_formed() -> None:
    metas = sorted(REGRESSIONS.glob("*.json"))
    bins = sorted(REGRESSIONS.glob("*.bin"))
    assert metas, "the regression corpus is empty"
    assert [p.stem for p in metas] == [p.stem for p in bins], "every .bin needs a sibling .json and back"
    for path in metas:
        meta = json.loads(path.read_text(encoding="utf-8"))
        assert meta["protocol"] in PROTOCOLS and meta["bug"] and meta["found"], path


@pytest.mark.parametrize(("path", "meta"), _regressions())
def test_regression_corpus(path: Path, meta: dict[str, Any]) -> None:
    """Every input fuzzing found crashing or hanging, through both protocols in every variant, whole
    and cut into single-byte reads (the adversarial schedule for a long input: feeding one long line
    a byte at a time is quadratic in the parser)."""
    raw = path.read_bytes()
    run_all(raw, None)
    reads = [raw[i : i + 1] for i in range(len(raw))] if len(raw) <= 8192 else split(raw, "adversarial")
    run_all(raw, reads or None, 0)
