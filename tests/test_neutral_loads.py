"""`neutral.loads` decodes exactly as the strict standard-library loader does, fast path or not.

The fast path (msgspec, when installed) may only ever say what `_strict` would say: whatever it
accepts, `_strict` accepts too, with the same Python values (types included: an int stays an int at
any size, -0.0 stays -0.0); whatever it rejects goes to `_strict`, which decides and words the error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conformance import neutral
from conformance.corpus import default_corpus, load_corpus
from conformance.sse import parse

FUZZ_REGRESSIONS = Path(__file__).resolve().parent / "fuzz-regressions"

fast = neutral._FAST
needs_fast = pytest.mark.skipif(fast is None, reason="msgspec is not installed: loads is _strict alone")


def _same(a: Any, b: Any) -> bool:
    """Equal values of identical types all the way down, keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return repr(a) == repr(b)  # tells -0.0 from 0.0
    return a == b


def _outcome(text: str | bytes, decode: Any) -> tuple[str, Any]:
    try:
        return "value", decode(text)
    except (ValueError, RecursionError) as error:
        return "error", (type(error), str(error))


def assert_agrees(text: str | bytes) -> None:
    strict = _outcome(text, neutral._strict)
    got = _outcome(text, neutral.loads)
    assert got[0] == strict[0], (text, got, strict)
    assert _same(got[1], strict[1]), (text, got, strict)
    if fast is not None and isinstance(text, str):
        quick = _outcome(text, fast)
        if quick[0] == "value":
            assert strict[0] == "value" and _same(quick[1], strict[1]), (text, quick, strict)


def _corpus_payloads() -> list[str]:
    bodies = [capture.body for capture in load_corpus(default_corpus()).captures]
    bodies += [path.read_bytes() for path in sorted(FUZZ_REGRESSIONS.glob("*.bin"))]
    return [event.data for body in bodies for event in parse(body)[0]]


def test_every_corpus_and_fuzz_regression_payload() -> None:
    payloads = _corpus_payloads()
    assert len(payloads) > 400
    for text in payloads:
        assert_agrees(text)


EDGES = [
    "18446744073709551616",  # past uint64: an int, not a float
    "-9223372036854775809",
    "1" * 4300,  # the interpreter's default limit on int digits
    "1" * 4301,
    "1e400",
    "-1e400",
    "1.7976931348623158e308",  # rounds down to the largest double
    "1.7976931348623159e308",  # rounds up to infinity
    "2e-324",
    "3e-324",
    "-0",
    "-0.0",
    "-0e0",
    "1e5",
    "NaN",
    "-Infinity",
    '{"a": 1, "a": 2, "b": 3}',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\ud800"',
    '"\\ud83d\\ude00"',
    '"a\x01"',
    '"\x7f"',
    "\ufeff{}",
    "\x0c1",
    "1\x0b",
    "\u00a01",
    " \t\r\n1 \t\r\n",
    "[1,]",
    "01",
    "1.",
    ".5",
    "",
    "[1] x",
    "[" * 5000 + "]" * 5000,
    '{"a":' * 5000 + "1" + "}" * 5000,
]


@pytest.mark.parametrize("text", EDGES)
def test_edges(text: str) -> None:
    assert_agrees(text)


def test_without_msgspec_the_standard_library_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neutral, "_FAST", None)
    assert _same(neutral.loads('{"a": [1, -0.0, "\\ud800"]}'), {"a": [1, -0.0, "\ud800"]})
    with pytest.raises(ValueError, match="NaN is not JSON"):
        neutral.loads("NaN")


@pytest.mark.parametrize("text", [b'{"a": 1}', "\ufeff[1]".encode(), '"é"'.encode("utf-16")])
def test_bytes_take_the_standard_library(text: bytes) -> None:
    assert_agrees(text)


@needs_fast
def test_fast_path_is_taken() -> None:
    # Guards against a fast path that silently fails on everything: agreement alone would not see it.
    assert _same(fast('{"a": [1, -0.0, 18446744073709551616, "\\u00e9"]}'), {"a": [1, -0.0, 18446744073709551616, "é"]})


TOKENS = st.sampled_from(
    ["{", "}", "[", "]", ",", ":", '"', "\\", "u", "d800", "dc00", "D83D", "DE00", "00e9", "/", "n", "t",
     "true", "false", "null", "NaN", "Infinity", "-", "+", "0", "1", "9", "e", "E", ".", "9" * 19, "1" * 25,
     " ", "\t", "\n", "\r", "\x0c", "\x0b", "\xa0", "\x00", "\x1f", "\x7f", "\ufeff", "\ud800", "é", "\U0001f600",
     '"a"', '"k":', "e400", "e-400", "308"]
)  # fmt: skip
NUMBERS = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Zs", "Lo"]))
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20,
)


def _with_duplicate_keys(text: str) -> str:
    """The same document with its first object's first member repeated, if it has one."""
    start = text.find("{")
    end = text.find(",", start)
    return text if start < 0 or end < 0 else text[: end + 1] + text[start + 1 : end + 1] + text[end + 1 :]


@settings(max_examples=1500, deadline=None)
@given(tokens=st.lists(TOKENS, max_size=30))
def test_token_soup(tokens: list[str]) -> None:
    assert_agrees("".join(tokens))


@settings(max_examples=1500, deadline=None)
@given(number=NUMBERS, wrap=st.sampled_from(["{}", "[{}]", '{{"n": {}}}', " {} "]))
@example(number="1" * 26 + "e308", wrap="{}")
def test_numbers(number: str, wrap: str) -> None:
    assert_agrees(wrap.format(number))


@settings(max_examples=1000, deadline=None)
@given(value=VALUES, ascii=st.booleans(), indent=st.sampled_from([None, 0, 1, "\t"]), duplicate=st.booleans())
def test_documents(value: Any, ascii: bool, indent: Any, duplicate: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii, indent=indent)
    assert_agrees(_with_duplicate_keys(text) if duplicate else text)
