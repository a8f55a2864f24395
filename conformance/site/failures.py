"""The failing items of one report, as its implementation page shows them.

An item is shown when it fails (`fail`, `errored`) or stands against the gate (`new`, or `fixed`: a
known failure that passes now). Its output is split into the SSE events its client parsed, numbered
as the verdicts number them: a violation's `event` is the index of the event in
`conformance.sse.parse(output)`, the parse the checks run on. The events named by a `fail` verdict
are the offending ones; those named only by a `non-strict` or `inherited` verdict are deviations.

The exact bytes come from raw.json when it is there and from the same run; otherwise the events are
rebuilt from the report's parsed copy (ids and clocks masked), and the page says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.invariants import FAILING_GRADES
from conformance.site.reports import LoadedReport
from conformance.sse import parse

__all__ = ["CR", "anchors", "failing_items", "shown"]

_SHOWN_OUTCOMES = frozenset({"fail", "errored"})
_AGAINST_GATE = frozenset({"new", "fixed"})
_SLUG = re.compile(r"[^a-z0-9]+")
# A lone CR is invisible in a page, yet CRLF against LF framing is what some checks are about.
CR = "\u240d"


def shown(row: dict[str, Any]) -> bool:
    """Whether the implementation page shows this item: it fails, errs, or stands against the gate."""
    return row["outcome"] in _SHOWN_OUTCOMES or row["gate"] in _AGAINST_GATE


def anchors(rows: list[dict[str, Any]]) -> dict[str, str]:
    """An HTML id for each shown item, from its id (`openai-chat/openai/text-lf[route][event]` →
    `openai-chat-openai-text-lf-route-event`), numbered on in id order when two ids give the same one."""
    taken: set[str] = set()
    result: dict[str, str] = {}
    for row in sorted((row for row in rows if shown(row)), key=lambda row: row["id"]):
        base = "item-" + (_SLUG.sub("-", row["id"].lower()).strip("-") or "x")
        anchor, number = base, 1
        while anchor in taken:
            number += 1
            anchor = f"{base}-{number}"
        taken.add(anchor)
        result[row["id"]] = anchor
    return result


def _visible(text: str) -> str:
    return text.replace("\r", CR)


def _trim(text: str) -> str:
    """An event's text without the LF that closes its last line; a CR before it stays, to be shown."""
    return text[:-1] if text.endswith("\n") else text


def _raw_segments(body: bytes) -> list[dict[str, Any]]:
    """The body cut at the events the parser dispatched; bytes that form no event (an unterminated
    last event, a dataless block) are kept as segments without an index."""
    events, _ = parse(body)
    segments: list[dict[str, Any]] = []
    position = 0
    for index, event in enumerate(events):
        between = body[position : event.start]
        if between.strip(b"\r\n"):
            segments.append({"event": None, "text": _visible(between.decode("utf-8", "replace").strip("\r\n"))})
        segments.append(
            {"event": index, "text": _visible(_trim(body[event.start : event.end].decode("utf-8", "replace")))}
        )
        position = event.end
    rest = body[position:]
    if rest.strip(b"\r\n"):
        segments.append({"event": None, "text": _visible(rest.decode("utf-8", "replace").strip("\r\n"))})
    return segments


def _parsed_segments(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's parsed events written back as SSE text (ids and clocks stay masked)."""
    segments = []
    for index, event in enumerate(events):
        data = event["data"]
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        lines = [] if event["event"] == "message" else [f"event: {event['event']}"]
        lines += [f"data: {line}" for line in text.split("\n")]
        segments.append({"event": index, "text": _visible("\n".join(lines))})
    return segments


def _stream(row: dict[str, Any], body: bytes | None) -> dict[str, Any] | None:
    output = row.get("output")
    if output is None:
        return None
    stream: dict[str, Any] = {"status": output["status"], "bytes": output["bytes"], "exact": body is not None}
    if body is not None:
        error_response = output["status"] >= 300
        text = _visible(body.decode("utf-8", "replace"))
        stream["segments"] = [{"event": None, "text": text}] if error_response else _raw_segments(body)
    elif "body" in output:
        stream["segments"] = [{"event": None, "text": _visible(output["body"])}]
    else:
        stream["segments"] = _parsed_segments(output.get("events", []))
    return stream


def _verdicts(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The failing verdicts of an item, worst grade first, in the report's order within a grade."""
    found = [verdict for verdict in row.get("verdicts", {}).values() if isinstance(verdict, dict)]
    return sorted(found, key=lambda verdict: FAILING_GRADES.index(verdict["outcome"]))


def _marks(verdicts: list[dict[str, Any]], stream: dict[str, Any] | None) -> None:
    """Mark each event segment `offending` (a `fail` verdict names it) or `deviation` (only a
    non-strict or inherited one does)."""
    if stream is None:
        return
    named: dict[int, str] = {}
    for verdict in verdicts:
        for violation in verdict.get("violations", []):
            index = violation["event"]
            if index is None:
                continue
            if verdict["outcome"] == "fail":
                named[index] = "offending"
            else:
                named.setdefault(index, "deviation")
    for segment in stream["segments"]:
        if segment["event"] is not None and segment["event"] in named:
            segment["mark"] = named[segment["event"]]


def failing_items(report: LoadedReport) -> list[dict[str, Any]]:
    """Every shown item of the report, in id order, with what its page needs."""
    ids = anchors(report.items)
    entries = []
    for row in report.items:
        if row["id"] not in ids:
            continue
        verdicts = _verdicts(row)
        stream = _stream(row, report.raw.get(row["id"]))
        _marks(verdicts, stream)
        entry: dict[str, Any] = {
            "id": row["id"],
            "anchor": ids[row["id"]],
            "capture": row["capture"],
            "route": row["route"],
            "schedule": row["schedule"],
            "outcome": row["outcome"],
            "gate": row["gate"],
            "ending": row["ending"],
            "refused": bool(row.get("refused")),
            "upstream_identical": bool(row.get("upstream_identical")),
            "error": row.get("error", ""),
            "known_failures": row.get("known_failures", []),
            "verdicts": verdicts,
            "stream": stream,
        }
        entries.append(entry)
    return sorted(entries, key=lambda entry: entry["id"])
