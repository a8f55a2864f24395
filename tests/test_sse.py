"""conformance.sse: WHATWG event-stream parsing (HTML §9.2.5-9.2.6) and chunking independence."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conformance.sse import OBSERVATION_KINDS, Event, SSEParser, format_event, parse


def events_of(data: bytes) -> list[tuple[str, str, str]]:
    events, _ = parse(data)
    return [(e.type, e.data, e.last_event_id) for e in events]


def kinds_of(data: bytes) -> dict[str, int]:
    _, observations = parse(data)
    return {o.kind: o.count for o in observations}


# Each row: name, stream bytes, expected (type, data, last_event_id) events. The names follow
# web-platform-tests eventsource/ where a case comes from there.
WHATWG_CASES = [
    ("simple", b"data: a\n\n", [("message", "a", "")]),
    (
        "format-bom",
        b"\xef\xbb\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\ndata: 3\n\n",
        [("message", "1", ""), ("message", "3", "")],
    ),
    ("only-one-bom-stripped", b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\n", []),
    ("cr-only", b"data: a\rdata: b\r\rdata: c\r\r", [("message", "a\nb", ""), ("message", "c", "")]),
    ("crlf", b"data: a\r\n\r\n", [("message", "a", "")]),
    (
        "mixed-endings",
        b"data: a\n\r\ndata: b\r\r\ndata: c\n\n",
        [("message", "a", ""), ("message", "b", ""), ("message", "c", "")],
    ),
    ("format-comments", b": a comment\ndata: x\n:" + b"x" * 2048 + b"\r\ndata: y\r\n\n", [("message", "x\ny", "")]),
    (
        "comment-is-not-end",
        b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {}\n\n",
        [("message", "{}", "")],
    ),
    ("field-without-colon-is-empty-value", b"data\ndata\n\n", [("message", "\n", "")]),
    ("format-field-data-empty", b"data:\n\n", [("message", "", "")]),
    ("data-without-space", b"data:x\n\n", [("message", "x", "")]),
    ("only-one-space-removed", b"data:  x\n\n", [("message", " x", "")]),
    ("split-at-first-colon", b"data: a:b: c\n\n", [("message", "a:b: c", "")]),
    ("event-type", b"event: ping\ndata: {}\n\n", [("ping", "{}", "")]),
    ("type-resets-after-dispatch", b"event: x\ndata: 1\n\ndata: 2\n\n", [("x", "1", ""), ("message", "2", "")]),
    ("event-without-data-not-dispatched", b"event: x\n\ndata: 2\n\n", [("message", "2", "")]),
    ("id-persists", b"id: 7\ndata: 1\n\ndata: 2\n\n", [("message", "1", "7"), ("message", "2", "7")]),
    ("empty-id-resets", b"id: 7\ndata: 1\n\nid\ndata: 2\n\n", [("message", "1", "7"), ("message", "2", "")]),
    (
        "format-field-id-null",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [("message", "a", "1"), ("message", "b", "1")],
    ),
    ("field-names-case-sensitive", b"Data: a\nDATA: b\ndata: c\n\n", [("message", "c", "")]),
    ("unknown-field-ignored", b"foo: bar\ndata: a\n\n", [("message", "a", "")]),
    ("format-data-before-final-empty-line", b"data: a\n\ndata: b\n", [("message", "a", "")]),
    ("unterminated-line", b"data: a\n\ndata: b", [("message", "a", "")]),
    ("multi-line-data", b'data: {"a":\ndata:  1}\n\n', [("message", '{"a":\n 1}', "")]),
    ("u2028-does-not-split", "data: a\u2028b\u0085c\n\n".encode(), [("message", "a\u2028b\u0085c", "")]),
    ("invalid-utf8-replaced", b"data: a\xffb\n\n", [("message", "a\ufffdb", "")]),
    ("format-utf-8", "data: ☃ é 🌍\n\n".encode(), [("message", "☃ é 🌍", "")]),
]


@pytest.mark.parametrize(("stream", "expected"), [pytest.param(s, e, id=n) for n, s, e in WHATWG_CASES])
def test_whatwg_cases(stream: bytes, expected: list[tuple[str, str, str]]) -> None:
    assert events_of(stream) == expected


@pytest.mark.parametrize(
    ("value", "retry"),
    [
        ("1000", 1000),
        ("0", 0),
        ("1000x", None),
        ("-5", None),
        ("+5", None),
        (" 5", 5),
        ("  5", None),
        ("", None),
        ("١٢", None),
    ],
)
def test_retry_takes_ascii_digits_only(value: str, retry: int | None) -> None:
    parser = SSEParser()
    parser.feed(f"retry:{value}\ndata: a\n\n".encode())
    parser.close()
    assert parser.retry == retry
    assert ("retry-invalid" in {o.kind for o in parser.observations}) == (retry is None)


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        (b"\xef\xbb\xbfdata: a\n\n", "bom"),
        (b"data: a\r\n\r\n", "line-ending-crlf"),
        (b"data: a\r\r", "line-ending-cr"),
        (b"data: a\n\n", "line-ending-lf"),
        (b": ping\ndata: a\n\n", "comment"),
        (b"data:a\n\n", "data-no-space"),
        (b"data\n\n", "field-without-colon"),
        (b"foo: 1\ndata: a\n\n", "unknown-field"),
        (b"id: a\x00b\ndata: a\n\n", "id-with-nul"),
        (b"retry: 1x\ndata: a\n\n", "retry-invalid"),
        (b"data: \xff\n\n", "invalid-utf8"),
        (b"event: x\n\n", "empty-dispatch"),
        (b"data: a\n\ndata: b", "unterminated-event"),
    ],
)
def test_each_observation_kind_is_reported(stream: bytes, kind: str) -> None:
    assert kind in OBSERVATION_KINDS
    assert kind in kinds_of(stream)


@pytest.mark.parametrize("stream", [b"data: a\n\n", b'data: {"x": 1}\r\n\r\n', b"event: e\ndata: a\n\n"])
def test_clean_streams_observe_nothing_suspicious(stream: bytes) -> None:
    suspicious = set(OBSERVATION_KINDS) - {"line-ending-lf", "line-ending-crlf", "line-ending-cr"}
    assert not suspicious & set(kinds_of(stream))


def test_observations_report_first_offset_and_count() -> None:
    _, observations = parse(b"data: a\n\n: one\n: two\ndata: b\n\n")
    comment = next(o for o in observations if o.kind == "comment")
    assert (comment.offset, comment.count, comment.example) == (9, 2, ": one")


def test_event_offsets_point_into_the_stream() -> None:
    stream = b": c\ndata: a\n\ndata: b\n\n"
    events, _ = parse(stream)
    assert [(e.start, e.end) for e in events] == [(0, 12), (13, 21)]
    assert stream[events[1].start : events[1].end] == b"data: b\n"


def test_feed_after_close_is_an_error() -> None:
    parser = SSEParser()
    parser.close()
    with pytest.raises(ValueError, match="after close"):
        parser.feed(b"data: a\n\n")


def test_events_are_yielded_as_soon_as_their_blank_line_arrives() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n") == []
    assert [e.data for e in parser.feed(b"\ndata: b")] == ["a"]
    assert parser.close() == []


def test_a_cr_at_the_end_of_a_read_dispatches_at_once() -> None:
    # A CR-only stream must not wait for the next read to dispatch (streaming latency).
    parser = SSEParser()
    assert [e.data for e in parser.feed(b"data: a\r\r")] == ["a"]


@pytest.mark.parametrize("data", ["x", "", "a\nb", '{"a": 1}', "é\n\n🌍"])
def test_writer_round_trips(data: str) -> None:
    events, _ = parse(format_event(data, "message_start") + format_event(data))
    assert [(e.type, e.data) for e in events] == [("message_start", data), ("message", data)]


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _result(chunks: list[bytes]) -> tuple[list[Event], tuple]:
    return parse(chunks)


SSE_ALPHABET = st.sampled_from(
    [
        b"data:",
        b"data: ",
        b"event: ",
        b"id: ",
        b"retry: ",
        b": ",
        b"\r\n",
        b"\r",
        b"\n",
        b"\n\n",
        b"\xef\xbb\xbf",
        b"x",
        b" ",
        "é".encode(),
        "中".encode(),
        "🌍".encode(),
        b"\xff",
        b"\x00",
        b'{"a":1}',
        b"[DONE]",
    ]
)
STREAMS = st.lists(SSE_ALPHABET, max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(stream=STREAMS, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=30))
@example(stream="data: 中\r\n\r\n".encode(), cuts=[7, 8, 10])
@example(stream=b"\xef\xbb\xbfdata: a\r\n\r\n", cuts=[1, 2, 12])
def test_any_rechunking_gives_identical_events_and_observations(stream: bytes, cuts: list[int]) -> None:
    assert _result(split_at(stream, cuts)) == _result([stream])


@settings(max_examples=100, deadline=None)
@given(stream=STREAMS)
def test_every_single_split_point_gives_identical_results(stream: bytes) -> None:
    whole = _result([stream])
    for cut in range(1, len(stream)):
        assert _result([stream[:cut], stream[cut:]]) == whole, cut


@settings(max_examples=50, deadline=None)
@given(stream=STREAMS)
def test_byte_at_a_time_gives_identical_results(stream: bytes) -> None:
    assert _result([bytes([b]) for b in stream]) == _result([stream])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_arbitrary_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    events, observations = parse(split_at(data, cuts))
    assert all(isinstance(e.data, str) for e in events)
    assert all(o.kind in OBSERVATION_KINDS for o in observations)
