"""An incremental WHATWG event-stream parser over bytes, and a writer.

The parser follows "Parsing an event stream" and "Interpreting an event stream" of the WHATWG HTML
standard (https://html.spec.whatwg.org/multipage/server-sent-events.html) exactly, and reports how
the stream was framed next to the events it yields: line-ending kinds, a BOM, comments, `data:`
without a space, malformed UTF-8, fields it ignored, and an unterminated final event. Its result
never depends on how the bytes are split into reads: lines are cut on raw bytes (CR and LF never
occur inside a UTF-8 sequence) and decoded whole, a CR at the end of a read remembers to swallow a
following LF, and a BOM split across reads is held back until it is decided.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Event", "Observation", "SSEParser", "parse", "format_event"]

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_EXAMPLE_LIMIT = 80


# Not frozen: one is built per event, and a frozen dataclass takes four times as long to build
# (0.43 µs against 0.11 µs). Nothing changes an event after the parser made it.
@dataclass(slots=True)
class Event:
    """A dispatched event. `start` is the stream offset of its first line (comments included) and
    `end` the offset of the blank line that dispatched it."""

    type: str
    data: str
    last_event_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Observation:
    """How a stream was framed: one row per kind, with its first offset and how often it occurred."""

    kind: str
    offset: int
    count: int
    example: str

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "offset": self.offset, "count": self.count, "example": self.example}


# Kinds of observation, with what each means; the parser only ever records these.
OBSERVATION_KINDS: dict[str, str] = {
    "bom": "the stream began with a UTF-8 BOM, which was stripped",
    "line-ending-lf": "a line ended with LF",
    "line-ending-crlf": "a line ended with CRLF",
    "line-ending-cr": "a line ended with a lone CR",
    "comment": "a comment line (starting with ':') was ignored",
    "data-no-space": "a data field had no space after the colon",
    "field-without-colon": "a line had no colon, so it is a field name with an empty value",
    "unknown-field": "a field other than event, data, id and retry was ignored",
    "id-with-nul": "an id field containing U+0000 was ignored",
    "retry-invalid": "a retry field that is not all ASCII digits was ignored",
    "invalid-utf8": "bytes that are not UTF-8 were decoded as U+FFFD",
    "empty-dispatch": "a blank line ended an event with no data while an event type, a retry or a last event id was set, so nothing was dispatched (clients that dispatch it anyway get data '')",
    "unterminated-event": "the stream ended inside an event, which was therefore discarded",
}


class SSEParser:
    """Feed bytes in any chunking; collect events as they complete.

    >>> p = SSEParser()
    >>> p.feed(b"data: a\\r") + p.feed(b"\\n\\r\\n")
    [Event(type='message', data='a', last_event_id='', start=0, end=9)]
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._buffer_offset = 0  # stream offset of self._buffer[0]
        self._pieces: list[bytes] = []  # reads after self._buffer with no line end: joined once, when a line ends
        self._pending_cr: int | None = None  # offset of a CR that ended the last read
        self._bom_decided = False
        self._data: list[str] = []
        self._type = ""
        self._last_event_id = ""
        self._event_start: int | None = None
        self._observed: dict[str, list] = {}  # kind -> [first offset, count, example]
        self.retry: int | None = None
        self._retry_in_event = False
        self.closed = False

    @property
    def observations(self) -> tuple[Observation, ...]:
        observed = (
            Observation(kind, offset, count, example) for kind, (offset, count, example) in self._observed.items()
        )
        return tuple(sorted(observed, key=lambda o: (o.offset, o.kind)))

    def feed(self, chunk: bytes) -> list[Event]:
        if self.closed:
            raise ValueError("SSEParser.feed() called after close()")
        if self._buffer and self._bom_decided and b"\n" not in chunk and b"\r" not in chunk:
            # The line goes on: keep the read, so that a long line fed in small reads is not quadratic.
            self._pieces.append(bytes(chunk))
            return []
        if self._pieces:
            self._buffer = b"".join([self._buffer, *self._pieces])
            self._pieces = []
        buffer = self._buffer + chunk if self._buffer else bytes(chunk)
        if not self._bom_decided:
            if len(buffer) < 3 and _BOM.startswith(buffer):
                self._buffer = buffer
                return []
            self._bom_decided = True
            if buffer.startswith(_BOM):
                self._observe("bom", self._buffer_offset, "")
                buffer = buffer[3:]
                self._buffer_offset += 3
        if self._pending_cr is not None and buffer:
            # A CR ended the last read: only now is it known whether it was half of a CRLF.
            if buffer[0] == 0x0A:
                self._observe("line-ending-crlf", self._pending_cr, "")
                buffer = buffer[1:]
                self._buffer_offset += 1
            else:
                self._observe("line-ending-cr", self._pending_cr, "")
            self._pending_cr = None
        events: list[Event] = []
        first_cr = buffer.find(b"\r")
        if first_cr < 0:
            self._buffer = self._lines(buffer, b"\n", "line-ending-lf", events)
            return events
        # CRs occur (rarely): the lines around them go through the general loop, the LF-only lines
        # before and after them through the fast one.
        before = buffer.rfind(b"\n", 0, first_cr) + 1
        after = buffer.find(b"\n", buffer.rfind(b"\r")) + 1 or len(buffer)
        if before:
            self._lines(buffer[:before], b"\n", "line-ending-lf", events)
        middle = buffer[before:after]
        if middle.count(b"\r") == middle.count(b"\r\n") == middle.count(b"\n"):
            rest = self._lines(middle, b"\r\n", "line-ending-crlf", events)
        else:
            rest = self._mixed(middle, events)
        if after < len(buffer):
            rest = self._lines(buffer[after:], b"\n", "line-ending-lf", events)
        self._buffer = rest
        return events

    def _mixed(self, buffer: bytes, events: list[Event]) -> bytes:
        """Every complete line of `buffer`, whatever its line ending; returns the incomplete rest."""
        position = 0
        for match in _LINE_END.finditer(buffer):
            line_end = match.start()
            terminator = match.group()
            if terminator == b"\r" and match.end() == len(buffer):
                self._pending_cr = self._buffer_offset + line_end
            else:
                self._observe(_TERMINATOR_KIND[terminator], self._buffer_offset + line_end, "")
            self._line(buffer[position:line_end], self._buffer_offset + position, events)
            position = match.end()
        self._buffer_offset += position
        return buffer[position:]

    def _lines(self, buffer: bytes, terminator: bytes, kind: str, events: list[Event]) -> bytes:
        """The common case, fast: every complete line of `buffer` ends with `terminator`. The same
        result as `_mixed`, with short cuts for `data: ` and `event: ` lines; returns the incomplete rest."""
        lines = buffer.split(terminator)
        rest = lines.pop()
        if not lines:
            return rest
        offset = self._buffer_offset
        self._observe_many(kind, offset + len(lines[0]), len(lines))
        step = len(terminator)
        line = self._line
        data = self._data
        for raw in lines:
            # Blank lines first: every event ends with one, and they need no prefix test.
            if not raw:
                if data:
                    # _dispatch, inlined for the common case of an event with data.
                    events.append(
                        Event(self._type or "message", "\n".join(data), self._last_event_id, self._event_start, offset)
                    )
                    data = self._data = []
                    self._type = ""
                    self._retry_in_event = False
                    self._event_start = None
                else:
                    self._dispatch(offset, events)
            elif raw[:6] == b"data: ":
                if self._event_start is None:
                    self._event_start = offset
                try:
                    data.append(raw[6:].decode("utf-8"))
                except UnicodeDecodeError:
                    line(raw, offset, events)
            elif raw[:7] == b"event: ":
                # The other line every Anthropic event has.
                if self._event_start is None:
                    self._event_start = offset
                try:
                    self._type = raw[7:].decode("utf-8")
                except UnicodeDecodeError:
                    line(raw, offset, events)
            else:
                line(raw, offset, events)
            offset += len(raw) + step
        self._buffer_offset = offset
        return rest

    def close(self) -> list[Event]:
        """End of stream: per WHATWG, an event without its final blank line is discarded."""
        if self.closed:
            return []
        self.closed = True
        if self._pieces:
            self._buffer = b"".join([self._buffer, *self._pieces])
            self._pieces = []
        if self._pending_cr is not None:
            self._observe("line-ending-cr", self._pending_cr, "")
            self._pending_cr = None
        if not self._bom_decided and self._buffer:
            self._bom_decided = True
        if self._buffer or self._data or self._type:
            start = self._event_start if self._event_start is not None else self._buffer_offset
            pending = self._buffer.decode("utf-8", "replace") or "\n".join(self._data)
            self._observe("unterminated-event", start, pending)
        self._buffer = b""
        return []

    def _observe(self, kind: str, offset: int, example: str) -> None:
        seen = self._observed.get(kind)
        if seen is None:
            self._observed[kind] = [offset, 1, example[:_EXAMPLE_LIMIT]]
        else:
            seen[1] += 1

    def _observe_many(self, kind: str, offset: int, count: int) -> None:
        """`count` observations of `kind` with an empty example, the first at `offset`."""
        seen = self._observed.get(kind)
        if seen is None:
            self._observed[kind] = [offset, count, ""]
        else:
            seen[1] += count

    def _line(self, raw: bytes, offset: int, events: list[Event]) -> None:
        if not raw:
            self._dispatch(offset, events)
            return
        if self._event_start is None:
            self._event_start = offset
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            self._observe("invalid-utf8", offset, line)
        if line[0] == ":":
            self._observe("comment", offset, line)
            return
        name, colon, value = line.partition(":")
        if not colon:
            self._observe("field-without-colon", offset, line)
        elif value[:1] == " ":
            value = value[1:]
        elif name == "data" and value:
            self._observe("data-no-space", offset, line)
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\x00" in value:
                self._observe("id-with-nul", offset, line)
            else:
                self._last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self.retry = int(value)
                self._retry_in_event = True
            else:
                self._observe("retry-invalid", offset, line)
        else:
            self._observe("unknown-field", offset, line)

    def _dispatch(self, end: int, events: list[Event]) -> None:
        start = self._event_start if self._event_start is not None else end
        self._event_start = None
        if not self._data:
            # openai-python dispatches such a blank line when an event type or a retry came before it,
            # or any id ever did (its last event id is never reset), and then fails to parse data "".
            if self._type or self._retry_in_event or self._last_event_id:
                field = f"event: {self._type}" if self._type else "retry" if self._retry_in_event else "id"
                self._observe("empty-dispatch", start, f"{field} without data")
            self._type = ""
            self._retry_in_event = False
            return
        events.append(Event(self._type or "message", "\n".join(self._data), self._last_event_id, start, end))
        self._data = []
        self._type = ""
        self._retry_in_event = False


_TERMINATOR_KIND = {b"\n": "line-ending-lf", b"\r\n": "line-ending-crlf", b"\r": "line-ending-cr"}


def parse(chunks: Iterable[bytes] | bytes) -> tuple[list[Event], tuple[Observation, ...]]:
    """Parse a whole stream, given as bytes or as the reads it arrived in."""
    parser = SSEParser()
    events: list[Event] = []
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        events.extend(parser.feed(chunk))
    events.extend(parser.close())
    return events, parser.observations


def format_event(data: str, event: str | None = None) -> bytes:
    """One event in the canonical framing: optional `event:` line, `data: ` lines, blank line."""
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return (head + body + "\n").encode("utf-8")
