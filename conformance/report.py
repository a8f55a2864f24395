"""Reports: a JSON report of every verdict, and a Markdown summary for pull requests.

Records are plain JSON-able dicts so that pytest-xdist workers can hand them to the controller
through `user_properties`. Everything is sorted, so two runs of the same target on the same corpus
give identical reports except for the fields listed in `TIMING_FIELDS`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from conformance import schemas
from conformance.invariants import registry
from conformance.routes import route_id
from conformance.runner import CaseResult

__all__ = ["FORMAT", "TIMING_FIELDS", "record", "build", "write", "markdown", "corpus_revision", "slug"]

FORMAT = "conformance-report/1"
TIMING_FIELDS = ("seconds", "total_seconds")
"""Fields that vary from run to run; everything else is deterministic."""

_OUTCOMES = ("passed", "failed", "errored", "skipped")


def slug(target: str) -> str:
    """A folder name for a target spec: `mutant:cutoff` → `mutant-cutoff`."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in target).strip("-") or "target"


def record(result: CaseResult, known_failures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One item's row: its outcome, the verdict of every invariant, the known failures that cover
    it, and the raw output if it failed."""
    case = result.case
    row: dict[str, Any] = {
        "id": case.id,
        "capture": case.capture.id,
        "route": route_id(case.route),
        "schedule": case.schedule,
        "outcome": result.outcome,
        "seconds": round(result.seconds, 4),
    }
    if result.error:
        row["error"] = result.error
    if known_failures:
        row["known_failures"] = known_failures
    if result.verdicts:
        row["verdicts"] = {
            v.invariant: (v.outcome if v.outcome in ("pass", "skipped") else v.to_json()) for v in result.verdicts
        }
    if result.outcome != "passed" and result.output:
        row["output"] = {
            "bytes": len(result.output),
            "writes": result.chunks,
            "base64": base64.b64encode(result.output).decode("ascii"),
            "text": result.output.decode("utf-8", "backslashreplace"),
        }
    return row


def corpus_revision(root: Path) -> str:
    """A digest of every capture file, so a report says exactly which corpus it ran."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".sse", ".yaml", ".txt")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def build(header: dict[str, Any], rows: list[dict[str, Any]], total_seconds: float) -> dict[str, Any]:
    rows = sorted(rows, key=lambda row: row["id"])
    counts = Counter(row["outcome"] for row in rows)
    known_count = sum(1 for row in rows if row["outcome"] in ("failed", "errored") and _all_known(row))
    failing = Counter(
        invariant
        for row in rows
        for invariant, verdict in row.get("verdicts", {}).items()
        if isinstance(verdict, dict) and verdict["outcome"] == "fail"
    )
    warned = Counter(
        invariant
        for row in rows
        for invariant, verdict in row.get("verdicts", {}).items()
        if isinstance(verdict, dict) and verdict["outcome"] == "warning"
    )
    used = sorted({invariant for row in rows for invariant in row.get("verdicts", {})})
    known = registry()
    return {
        "format": FORMAT,
        "header": header,
        "summary": {
            **{outcome: counts.get(outcome, 0) for outcome in _OUTCOMES},
            "known_failures": known_count,
            "total": len(rows),
            "total_seconds": round(total_seconds, 2),
        },
        "invariants": {
            name: {**known[name].to_json(), "failed": failing.get(name, 0), "warned": warned.get(name, 0)}
            for name in used
            if name in known
        },
        "items": rows,
    }


def _failing(row: dict[str, Any]) -> set[str]:
    if row["outcome"] == "errored":
        return {"errored"}
    return {
        name
        for name, verdict in row.get("verdicts", {}).items()
        if isinstance(verdict, dict) and verdict["outcome"] == "fail"
    }


def _known(row: dict[str, Any]) -> set[str]:
    return {name for entry in row.get("known_failures", []) for name in entry["invariants"]}


def _all_known(row: dict[str, Any]) -> bool:
    return _failing(row) <= _known(row)


class InvalidReport(Exception):
    code = "invalid-report"


def write(directory: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write report.json and summary.md, after checking the report against its schema."""
    problems = schemas.problems("report", report)
    if problems:
        raise InvalidReport(
            f"the report breaks schemas/report.schema.json at {problems[0].path or '(top level)'}: {problems[0].message}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    md_path = directory / "summary.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def _cell(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("|", "\\|").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "…"


def _known_cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "**new**"
    return _cell(entry["reason"] + (f" ({entry['issue']})" if entry.get("issue") else ""), 100)


def _reasoning_table(report: dict[str, Any]) -> list[str]:
    """Whether reasoning survives each provider dialect on each route: the question LiteLLM's
    DeepSeek-R1 bug raised (WIRE-FACTS §9 #1-#4)."""
    features = report["header"].get("capture_features", {})
    dialects = {capture: sorted(f for f in names if f.startswith("reasoning.")) for capture, names in features.items()}
    rows = [row for row in report["items"] if dialects.get(row["capture"]) and row["outcome"] != "skipped"]
    if not rows:
        return []
    routes = sorted({row["route"] for row in rows})
    cells: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        verdict = row.get("verdicts", {}).get("semantic.reasoning")
        outcome = (
            "errored"
            if row["outcome"] == "errored"
            else (verdict if isinstance(verdict, str) else verdict["outcome"] if verdict else "?")
        )
        cells.setdefault((row["capture"], row["route"]), set()).add(outcome)
    lines = [
        "## Reasoning by dialect",
        "",
        "`semantic.reasoning` per capture and route, over every schedule.",
        "",
        "| dialect | capture | " + " | ".join(f"`{r}`" for r in routes) + " |",
        "|---|---|" + "---|" * len(routes),
    ]
    for capture in sorted({row["capture"] for row in rows}, key=lambda c: (dialects[c], c)):
        marks = []
        for route in routes:
            seen = cells.get((capture, route), set())
            marks.append("kept" if seen == {"pass"} else "lost" if "fail" in seen else ", ".join(sorted(seen)) or "")
        lines.append(f"| {', '.join(dialects[capture])} | `{capture}` | " + " | ".join(marks) + " |")
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    header = report["header"]
    summary = report["summary"]
    lines = [
        f"# Conformance: `{header['target']}` {header.get('target_version', '')}".rstrip(),
        "",
        f"Suite {header['suite_version']}, corpus `{header['corpus_revision']}`, schedules {', '.join(header['schedules'])}.",
        "",
        *[f"> Note: {note}" for note in header.get("notes", [])],
        *([""] if header.get("notes") else []),
        "| passed | failed | errored | skipped | of which known failures | total |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {summary['passed']} | {summary['failed']} | {summary['errored']} | {summary['skipped']} | {summary.get('known_failures', 0)} | {summary['total']} |",
        "",
    ]
    broken = {name: row for name, row in report["invariants"].items() if row["failed"] or row["warned"]}
    if broken:
        lines += [
            "## Invariants that caught something",
            "",
            "| invariant | severity | failed | warned | requirement |",
            "|---|---|---:|---:|---|",
        ]
        lines += [
            f"| `{name}` | {row['severity']} | {row['failed']} | {row['warned']} | {_cell(row['requirement'], 120)} |"
            for name, row in broken.items()
        ]
        lines.append("")
    lines += _reasoning_table(report)
    problems = [row for row in report["items"] if row["outcome"] in ("failed", "errored")]
    if problems:
        lines += [
            "## Failing items",
            "",
            "| item | invariant | expected | actual | event | known |",
            "|---|---|---|---|---:|---|",
        ]
        for row in problems:
            reasons = {name: entry for entry in row.get("known_failures", []) for name in entry["invariants"]}
            if row["outcome"] == "errored":
                lines.append(
                    f"| `{row['id']}` | errored | | {_cell(row.get('error', ''))} | | {_known_cell(reasons.get('errored'))} |"
                )
                continue
            for name, verdict in row.get("verdicts", {}).items():
                if isinstance(verdict, dict) and verdict["outcome"] == "fail":
                    first = verdict["violations"][0]
                    event = first["event"] if first["event"] is not None else ""
                    lines.append(
                        f"| `{row['id']}` | `{name}` | {_cell(first['expected'])} | {_cell(first['actual'])} | {event} | {_known_cell(reasons.get(name))} |"
                    )
        lines.append("")
    lines.append("Raw output bytes of every failing item are in `report.json` (`items[].output`).")
    return "\n".join(lines) + "\n"
