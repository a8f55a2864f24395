"""Snapshots of each target's normalized output, kept with syrupy under `<report-dir>/<target>/snapshots/`.

The normalized output is the list of events as parsed JSON, with the fields that change on every
run masked. One snapshot serves a capture × route under every schedule: a faithful target's output
does not depend on how its upstream was chunked, so a schedule-dependent output is a change too.

Snapshots are compared only where they were recorded (the folder exists) or when pytest runs with
`--snapshot-update`, so a first run in a new repository does not fail for lack of them. A partial
run (`-k`, `-m`, chosen schedules, ...) only reads them, without syrupy's session: it never writes
one, nor reports the snapshots of the items it left out as unused, nor offers to delete them.
"""

from __future__ import annotations

import difflib
import itertools
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.location import PyTestLocation

from conformance.neutral import loads
from conformance.results import CaseResult
from conformance.routes import route_id
from conformance.sse import parse

__all__ = ["normalized", "compare", "VOLATILE"]

VOLATILE = "<volatile>"
_DIFF_LINES = 40
# Keys whose values differ on every run of the same target: generated ids, clocks, padding.
_MASKED_TOP = frozenset({"id", "created", "system_fingerprint", "obfuscation", "request_id"})
_MASKED_MESSAGE = frozenset({"id"})
# A Responses event's `response` object, as a proxy that makes its own stamps it.
_MASKED_RESPONSE = frozenset({"id", "created_at"})


def _mask(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    masked = {key: (VOLATILE if key in _MASKED_TOP else value) for key, value in data.items()}
    for key, volatile in (("message", _MASKED_MESSAGE), ("response", _MASKED_RESPONSE)):
        inner = masked.get(key)
        if isinstance(inner, dict):
            masked[key] = {name: (VOLATILE if name in volatile else value) for name, value in inner.items()}
    return masked


def normalized(output: bytes) -> list[dict[str, Any]]:
    events, _ = parse(output)
    rows = []
    for event in events:
        try:
            data: Any = _mask(loads(event.data))
        except ValueError:
            data = event.data
        rows.append({"event": event.type, "data": data})
    return rows


def _name(item: pytest.Item) -> str:
    case = item.case  # type: ignore[attr-defined]
    name = f"{case.capture.id}.{route_id(case.route)}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@cache
def _extension(directory: str) -> type[JSONSnapshotExtension]:
    class ReportSnapshots(JSONSnapshotExtension):
        @classmethod
        def dirname(cls, *, test_location: PyTestLocation) -> str:
            return directory

        @classmethod
        def get_snapshot_name(cls, *, test_location: PyTestLocation, index: Any = 0) -> str:
            return _name(test_location.item)

    return ReportSnapshots


def compare(item: pytest.Item, result: CaseResult, directory: Path, spec: str, *, partial: bool = False) -> str:
    """'' when the output matches its snapshot (or none is kept); otherwise what changed."""
    config = item.config
    session = getattr(config, "_syrupy", None)
    update = bool(getattr(config.option, "update_snapshots", False)) and not partial
    if session is None or result.outcome in ("errored", "skipped") or not (directory.is_dir() or update):
        return ""
    if partial:
        return _read_only(item, result, directory, spec)
    assertion = SnapshotAssertion(
        update_snapshots=update,
        update_new_snapshots_only=False,
        extension_class=_extension(str(directory)),
        test_location=PyTestLocation(item),
        session=session,
    )
    if assertion == normalized(result.output):
        return ""
    diff = "\n".join(assertion.get_assert_diff())
    return f"snapshot: the normalized output differs from {directory}\n{diff}\n  accept the new output with: pytest --target={spec} --snapshot-update"


def _read_only(item: pytest.Item, result: CaseResult, directory: Path, spec: str) -> str:
    path = directory / f"{_name(item)}.{JSONSnapshotExtension.file_extension}"
    if not path.is_file():
        return ""  # recorded by a full run with --snapshot-update
    actual = JSONSnapshotExtension().serialize(normalized(result.output))
    recorded = path.read_text(encoding="utf-8")
    if recorded == actual:
        return ""
    diff = difflib.unified_diff(recorded.splitlines(), actual.splitlines(), "snapshot", "output", n=2, lineterm="")
    shown = list(itertools.islice(diff, _DIFF_LINES))
    return (
        f"snapshot: the normalized output differs from {path}\n"
        + "\n".join(f"  {line}" for line in shown)
        + f"\n  accept the new output with a full run: pytest --target={spec} --snapshot-update"
    )
