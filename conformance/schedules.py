"""How a capture's bytes are cut into writes.

A proxy that only works when every read holds whole events is broken in production, where TCP
and the provider's own buffering decide the reads. The replay server therefore serves the same
bytes under several schedules; a faithful target gives the same output under every one of them.

Every schedule is a pure function of the bytes: the same input always gives the same pieces, so a
failure seen under `adversarial` or `random-7` reproduces exactly. The pieces always join back to
the input and none is empty (an HTTP chunk of size 0 would end the body).

Line ends are found with the SSE parser's own `_LINE_END` regex on the whole body, so a CRLF is one
terminator (never cut by `event` or `line`), and CR-only streams are framed as the parser frames
them.
"""

from __future__ import annotations

import itertools
import random
import re

from .sse import _BOM, _LINE_END

__all__ = ["SCHEDULES", "DEFAULT_SCHEDULES", "check_schedule", "split"]

SCHEDULES: dict[str, str] = {
    "recorded": "the capture's bytes in one write (captures keep no read boundaries yet)",
    "event": "one SSE event per write, cut after each blank line",
    "line": "one line per write, cut after each line terminator (a CRLF is never cut)",
    "byte": "one byte per write",
    "adversarial": "cuts between CR and LF, inside every multi-byte UTF-8 sequence, and at fixed-seed random offsets",
    "random-<seed>": "seeded random writes of 1-64 bytes, e.g. random-7",
}
"""Name -> one-line description. `random-<seed>` is a template: pass `random-7`, not the key."""

DEFAULT_SCHEDULES: tuple[str, ...] = ("event", "adversarial")

_RANDOM = re.compile(r"random-(\d+)")
_RANDOM_MAX = 64
# Fixed so that `adversarial` is one reproducible schedule rather than a family.
_ADVERSARIAL_SEED = 0x5EED
_ADVERSARIAL_MAX = 32
# A UTF-8 lead byte of a multi-byte sequence followed by a continuation byte. Invalid leads
# (C0, C1, F5-FF) match too: one more cut costs nothing and keeps the rule byte-simple.
_MULTIBYTE_START = re.compile(rb"[\xc0-\xff][\x80-\xbf]")


def check_schedule(name: str) -> str:
    """Return `name` if it is a schedule, so option parsers can use it as a type converter."""
    if name in SCHEDULES and name != "random-<seed>":
        return name
    if _RANDOM.fullmatch(name):
        return name
    known = ", ".join(SCHEDULES)
    raise ValueError(f"unknown schedule {name!r}; known schedules: {known} (e.g. random-7)")


def split(body: bytes, schedule: str) -> list[bytes]:
    """Cut `body` into the writes of `schedule`; `b"".join(result) == body`, no piece is empty."""
    check_schedule(schedule)
    body = bytes(body)
    if not body:
        return []
    if schedule == "recorded":
        return [body]
    if schedule == "byte":
        return [body[i : i + 1] for i in range(len(body))]
    if schedule == "event":
        return _cut(body, _event_cuts(body))
    if schedule == "line":
        return _cut(body, [match.end() for match in _LINE_END.finditer(body)])
    if schedule == "adversarial":
        return _cut(body, _adversarial_cuts(body))
    seed = int(_RANDOM.fullmatch(schedule).group(1))  # type: ignore[union-attr]  # checked above
    return _cut(body, _random_cuts(len(body), random.Random(seed), _RANDOM_MAX))


def _cut(body: bytes, cuts: list[int] | set[int]) -> list[bytes]:
    """Slice at the given offsets; offsets at the ends or repeated would make empty pieces."""
    points = sorted({cut for cut in cuts if 0 < cut < len(body)})
    bounds = [0, *points, len(body)]
    return [body[start:end] for start, end in itertools.pairwise(bounds)]


def _event_cuts(body: bytes) -> list[int]:
    """After each blank line's terminator: where the parser dispatches an event."""
    cuts: list[int] = []
    # The parser strips a leading BOM before it sees lines, so a BOM-only first line is blank.
    line_start = len(_BOM) if body.startswith(_BOM) else 0
    for match in _LINE_END.finditer(body):
        if match.start() == line_start:
            cuts.append(match.end())
        line_start = match.end()
    return cuts


def _adversarial_cuts(body: bytes) -> set[int]:
    """The cuts that break parsers which assume a read ends on a character or a line end."""
    cuts = {match.start() + 1 for match in re.finditer(rb"\r\n", body)}
    cuts.update(match.start() + 1 for match in _MULTIBYTE_START.finditer(body))
    cuts.update(_random_cuts(len(body), random.Random(_ADVERSARIAL_SEED), _ADVERSARIAL_MAX))
    return cuts


def _random_cuts(length: int, rng: random.Random, largest: int) -> list[int]:
    """Offsets of a walk with steps of 1..`largest` bytes."""
    cuts: list[int] = []
    position = rng.randint(1, largest)
    while position < length:
        cuts.append(position)
        position += rng.randint(1, largest)
    return cuts
