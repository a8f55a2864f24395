"""Schedules cut bytes without losing any, and cut exactly where each one promises."""

from __future__ import annotations

from itertools import accumulate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.schedules import DEFAULT_SCHEDULES, SCHEDULES, check_schedule, split
from conformance.sse import parse

CONCRETE = [name for name in SCHEDULES if name != "random-<seed>"] + ["random-0", "random-7", "random-123456789"]

# Text rich in what breaks parsers: every line ending, multi-byte characters of each length.
_ATOMS = [b"\r", b"\n", b"\r\n", b"data: ", b"a", b":", b" ", "é".encode(), "中".encode(), "😀".encode()]
tricky_bytes = st.lists(st.sampled_from(_ATOMS), max_size=200).map(b"".join)
tricky_text = st.text(alphabet=st.sampled_from(list("ab: \r\néß中€😀𝄞")), max_size=300)
bodies = st.one_of(st.binary(max_size=500), tricky_bytes, tricky_text.map(lambda s: s.encode("utf-8")))


def cut_positions(pieces: list[bytes]) -> set[int]:
    """Offsets where one write ends and the next begins."""
    return set(list(accumulate(len(piece) for piece in pieces))[:-1])


@given(body=bodies, schedule=st.sampled_from(CONCRETE))
def test_pieces_join_back_and_none_is_empty(body: bytes, schedule: str) -> None:
    pieces = split(body, schedule)
    assert b"".join(pieces) == body
    assert all(pieces)
    assert split(body, schedule) == pieces  # deterministic


@pytest.mark.parametrize("schedule", CONCRETE)
def test_empty_body_gives_no_pieces(schedule: str) -> None:
    assert split(b"", schedule) == []


def test_recorded_is_one_write_and_byte_is_one_byte_per_write() -> None:
    body = "data: é\r\n\r\n".encode()
    assert split(body, "recorded") == [body]
    assert split(body, "byte") == [bytes([b]) for b in body]


EVENTS = ["data: a", 'event: x\ndata: {"é":1}', ": keep-alive\ndata: 😀", "data: [DONE]"]


@pytest.mark.parametrize("terminator", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_event_gives_one_piece_per_event(terminator: str) -> None:
    expected = [(event.replace("\n", terminator) + terminator * 2).encode() for event in EVENTS]
    pieces = split(b"".join(expected), "event")
    assert pieces == expected
    for piece in pieces:
        events, _ = parse(piece)
        assert len(events) == 1


@given(
    events=st.lists(
        st.lists(st.text(alphabet=st.sampled_from(list("ab:é😀 {}")), min_size=0, max_size=10), min_size=1, max_size=3),
        min_size=1,
        max_size=8,
    ),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_event_pieces_match_parser_dispatches(events: list[list[str]], terminator: str) -> None:
    expected = ["".join(f"data: {line}{terminator}" for line in event) + terminator for event in events]
    body = "".join(expected).encode()
    pieces = split(body, "event")
    assert pieces == [event.encode() for event in expected]
    assert len(pieces) == len(parse(body)[0])


def test_event_keeps_an_unterminated_tail_and_a_bom_blank_line() -> None:
    assert split(b"data: a\n\ndata: b", "event") == [b"data: a\n\n", b"data: b"]
    assert split(b"\xef\xbb\xbf\ndata: a\n\n", "event") == [b"\xef\xbb\xbf\n", b"data: a\n\n"]


@given(body=bodies)
def test_line_never_cuts_a_crlf_and_ends_pieces_on_terminators(body: bytes) -> None:
    pieces = split(body, "line")
    for cut in cut_positions(pieces):
        assert body[cut - 1 : cut + 1] != b"\r\n"
    for piece in pieces[:-1]:
        assert piece.endswith((b"\r", b"\n"))
        assert piece.rstrip(b"\r\n").find(b"\r") == piece.rstrip(b"\r\n").find(b"\n") == -1


@given(text=tricky_text)
def test_adversarial_cuts_inside_every_crlf_and_multibyte_sequence(text: str) -> None:
    body = text.encode("utf-8")
    cuts = cut_positions(split(body, "adversarial"))
    offset = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if width > 1:
            assert offset + 1 in cuts, f"no cut inside {char!r} at byte {offset}"
        offset += width
    crlf = body.find(b"\r\n")
    while crlf != -1:
        assert crlf + 1 in cuts, f"no cut inside the CRLF at byte {crlf}"
        crlf = body.find(b"\r\n", crlf + 1)


def test_random_is_seeded_deterministic_and_bounded() -> None:
    body = bytes(range(256)) * 8
    first = split(body, "random-1")
    assert first == split(body, "random-1")
    assert first != split(body, "random-2")
    assert all(1 <= len(piece) <= 64 for piece in first)


def test_check_schedule_accepts_known_names_and_names_them_on_error() -> None:
    for name in [*CONCRETE, *DEFAULT_SCHEDULES]:
        assert check_schedule(name) == name
    for bad in ["events", "random-", "random-x", "random--1", "random-<seed>", ""]:
        with pytest.raises(ValueError) as info:
            check_schedule(bad)
        for known in SCHEDULES:
            assert known in str(info.value)
    with pytest.raises(ValueError, match="unknown schedule 'bogus'"):
        split(b"data: a\n\n", "bogus")
