"""Reading the report folders the site is built from.

Each `REPORTS/<folder>/report.json` is checked against `schemas/report.schema.json` before anything
reads it, so a broken one stops the build with its file and field rather than a traceback halfway
through the pages. `raw.json` beside it (not committed: the exact output bytes) is optional; when it
is missing, unreadable or from another run than the report, the pages show the report's parsed
events instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import schemas
from conformance.report import FORMAT, slug
from conformance.snapshots import normalized

__all__ = ["LoadedReport", "SiteError", "load_reports"]

REPORT_FILE = "report.json"
RAW_FILE = "raw.json"
PARTIAL_FILE = "report.partial.json"


class SiteError(Exception):
    """A report the site cannot be built from; the message names the file and the field."""

    code = "bad-report"


@dataclass(frozen=True, slots=True)
class LoadedReport:
    slug: str
    """The folder's name made safe for a file name: the row's id and its page's name."""
    path: Path
    data: dict[str, Any] = field(repr=False)
    raw: dict[str, bytes] = field(repr=False, default_factory=dict)
    """The exact output bytes of each item, by item id, where raw.json has them for this very run."""

    @property
    def header(self) -> dict[str, Any]:
        return self.data["header"]

    @property
    def summary(self) -> dict[str, Any]:
        return self.data["summary"]

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.data["items"]


def _problems(data: Any) -> list[schemas.SchemaProblem]:
    # A reader takes fields it does not know yet (a newer suite's, an optional header field such as
    # `configuration`): only what the schema requires or types is held against a report.
    return [p for p in schemas.problems("report", data) if not p.schema_path.endswith("additionalProperties")]


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SiteError(f"{path}: cannot read it: {error.strerror or error}") from None
    except ValueError as error:
        raise SiteError(f"{path}: is not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise SiteError(f"{path}: field format: not a {FORMAT} report (format: {found!r})")
    problems = _problems(data)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise SiteError(f"{path}: field {first.path or '(top level)'}: {first.message}{more}")
    return data


def _same_output(row: dict[str, Any], body: bytes) -> bool:
    """Whether `body` is the output the report row was written from: the same length, and the same
    events once volatile values are masked (raw.json can be left from another run)."""
    output = row.get("output")
    if output is None or output["bytes"] != len(body):
        return False
    return "events" not in output or normalized(body) == output["events"]


def _read_raw(path: Path, items: list[dict[str, Any]]) -> tuple[dict[str, bytes], str | None]:
    """The exact bytes of the items that match the report, and a warning when raw.json is unusable."""
    if not path.is_file():
        return {}, None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = raw["items"]
        bodies = {
            item_id: base64.b64decode(entry["base64"], validate=True)
            for item_id, entry in entries.items()
            if isinstance(entry, dict) and "base64" in entry
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
        return {}, f"{path}: unreadable ({error}); its report's pages show the parsed events instead of the exact bytes"
    kept = {
        row["id"]: bodies[row["id"]] for row in items if row["id"] in bodies and _same_output(row, bodies[row["id"]])
    }
    return kept, None


def load_reports(folder: Path) -> tuple[list[LoadedReport], list[str]]:
    """Every `folder/*/report.json`, sorted by folder, and the warnings worth printing (a folder with
    only a partial run, an unusable raw.json). Raises SiteError for a report that cannot be read."""
    if not folder.is_dir():
        raise SiteError(f"{folder}: is not a folder of reports (expected {folder}/<implementation>/{REPORT_FILE})")
    loaded: list[LoadedReport] = []
    warnings: list[str] = []
    seen: dict[str, Path] = {}
    for directory in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = directory / REPORT_FILE
        if not path.is_file():
            if (directory / PARTIAL_FILE).is_file():
                warnings.append(f"{directory}: has only a partial run ({PARTIAL_FILE}); left out")
            continue
        name = slug(directory.name)
        if name in seen:
            raise SiteError(
                f"{path}: its folder's name gives the same page name, {name!r}, as {seen[name]}; rename one"
            )
        seen[name] = path
        data = _read_report(path)
        raw, warning = _read_raw(directory / RAW_FILE, data["items"])
        if warning:
            warnings.append(warning)
        loaded.append(LoadedReport(name, path, data, raw))
    if not loaded:
        raise SiteError(f"{folder}: holds no {REPORT_FILE} (expected {folder}/<implementation>/{REPORT_FILE})")
    return loaded, warnings
