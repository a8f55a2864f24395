"""Reports: a JSON report of every verdict, and a Markdown summary for pull requests.

A run writes three files into the target's report folder:
- `report.json` (schema: schemas/report.schema.json): the header, the counts of each class, every
  invariant that gave a verdict, and one row per item with the verdict of every invariant and, for
  an item that did not pass, its output as the client parsed it (volatile ids and clocks masked).
  A capture the loader or the linter refused has one row (`refused`), errored, with every problem.
  Everything in it is deterministic: run again with nothing changed, it is the same to the byte.
- `summary.md`: the same for a pull request, opening with one verdict line.
- `raw.json`: what varies from run to run and is not committed: timings, and the exact output
  bytes of every item that did not pass.

A partial run (`-k`, `-m`, `--deselect`, chosen node ids or schedules, `--no-transport`) writes
`report.partial.json`, `summary.partial.md` and `raw.partial.json` instead, beside the full run's.

Records are plain JSON-able dicts so that pytest-xdist workers can hand them to the controller
through `user_properties`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from conformance import schemas
from conformance.invariants import FAILING_GRADES, registry
from conformance.results import CLASSES, CaseResult
from conformance.routes import route_id
from conformance.snapshots import normalized

__all__ = [
    "FORMAT",
    "REFUSED",
    "build",
    "corpus_revision",
    "markdown",
    "raw_data",
    "record",
    "refused",
    "slug",
    "verdict_line",
    "write",
]

FORMAT = "conformance-report/2"
REFUSED = "refused"
"""The last part of a refused capture's item id: `<capture id>[refused]`."""
_BODY_LIMIT = 2000
_SECTIONS = (
    (
        "fail",
        "Breaks a client",
        "introduced by the target: content lost or altered, an error hidden, or a client that raises",
    ),
    (
        "non-strict",
        "Non-strict",
        "introduced by the target: deviations from the documented format that the clients we know tolerate",
    ),
    ("inherited", "Inherited", "already in the upstream's own stream, passed on unchanged"),
)


def slug(target: str) -> str:
    """A folder name for a target spec: `mutant:cutoff` → `mutant-cutoff`."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in target).strip("-") or "target"


def record(result: CaseResult, known_failures: list[dict[str, Any]], gate: str) -> dict[str, Any]:
    """One item's row: its class, how it stands at the gate (`ok`, `known`, or `new` / `fixed` when
    it fails it), the verdict of every invariant, the known failures that cover it, and its output
    if it did not pass. `raw` holds what varies between runs (timing, the exact bytes) for raw.json."""
    case = result.case
    row: dict[str, Any] = {
        "id": case.id,
        "capture": case.capture.id,
        "route": route_id(case.route),
        "schedule": case.schedule,
        "outcome": result.outcome,
        "gate": gate,
        "ending": result.ending,
    }
    if result.upstream_identical:
        row["upstream_identical"] = True
    if result.error:
        row["error"] = result.error
    if known_failures:
        row["known_failures"] = known_failures
    if result.verdicts:
        row["verdicts"] = {
            v.invariant: (v.outcome if v.outcome in ("pass", "skipped") else v.to_json()) for v in result.verdicts
        }
    raw: dict[str, Any] = {"seconds": round(result.seconds, 4)}
    if result.outcome not in ("pass", "skipped") and (result.output or result.status != 200):
        row["output"] = _output(result)
        raw.update(writes=result.chunks, base64=base64.b64encode(result.output).decode("ascii"))
    row["raw"] = raw
    return row


def refused(item_id: str, capture: str, error: str) -> dict[str, Any]:
    """The row of a capture the loader or the linter refused: errored, on no route and no schedule,
    never run, against the gate (`new`), with every problem in `error`."""
    return {
        "id": item_id,
        "capture": capture,
        "route": "",
        "schedule": "",
        "outcome": "errored",
        "gate": "new",
        "ending": "not-run",
        "refused": True,
        "error": error,
        "raw": {"seconds": 0.0},
    }


def _output(result: CaseResult) -> dict[str, Any]:
    """The output as its client read it: the parsed events with volatile values masked, or the body
    of an error response."""
    output: dict[str, Any] = {"bytes": len(result.output), "status": result.status}
    if result.status >= 300:
        text = result.output.decode("utf-8", "backslashreplace")
        output["body"] = text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + f"… ({len(text)} chars)"
    else:
        output["events"] = normalized(result.output)
    return output


def corpus_revision(root: Path) -> str:
    """A digest of every capture file, so a report says exactly which corpus it ran."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".sse", ".yaml", ".txt")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def build(header: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The report of a run (deterministic), from its rows without their `raw` parts."""
    rows = sorted(({k: v for k, v in row.items() if k != "raw"} for row in rows), key=lambda row: row["id"])
    counts = Counter(row["outcome"] for row in rows)
    graded = Counter(
        (name, verdict["outcome"])
        for row in rows
        for name, verdict in row.get("verdicts", {}).items()
        if isinstance(verdict, dict)
    )
    known = registry()
    used = sorted({name for row in rows for name in row.get("verdicts", {})})
    gate = Counter(row["gate"] for row in rows)
    return {
        "format": FORMAT,
        "header": header,
        "summary": {
            "gate": "FAIL" if gate["new"] or gate["fixed"] else "PASS",
            **{outcome: counts.get(outcome, 0) for outcome in CLASSES},
            "known_failures": gate["known"],
            "gate_failures": gate["new"] + gate["fixed"],
            "total": len(rows),
        },
        "invariants": {
            name: {**known[name].to_json(), **{grade: graded[(name, grade)] for grade in FAILING_GRADES}}
            for name in used
            if name in known
        },
        "items": rows,
    }


def raw_data(header: dict[str, Any], rows: list[dict[str, Any]], total_seconds: float) -> dict[str, Any]:
    """What raw.json holds: the run's timings and the exact bytes of each item that did not pass."""
    return {
        "format": FORMAT,
        "target": header["target"],
        "total_seconds": round(total_seconds, 2),
        "items": {row["id"]: row["raw"] for row in sorted(rows, key=lambda row: row["id"])},
    }


class InvalidReport(Exception):
    code = "invalid-report"


def write(
    directory: Path, report: dict[str, Any], raw: dict[str, Any], partial: bool = False, unexplained: int = 0
) -> tuple[Path, Path]:
    """Write report.json, summary.md and raw.json (their `.partial` twins for a partial run), after
    checking the report against its schema."""
    problems = schemas.problems("report", report)
    if problems:
        raise InvalidReport(
            f"the report breaks schemas/report.schema.json at {problems[0].path or '(top level)'}: {problems[0].message}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".partial" if partial else ""
    json_path = directory / f"report{suffix}.json"
    md_path = directory / f"summary{suffix}.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report, unexplained), encoding="utf-8")
    (directory / f"raw{suffix}.json").write_text(json.dumps(raw, ensure_ascii=False) + "\n", encoding="utf-8")
    return json_path, md_path


def _cell(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("|", "\\|").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "…"


def _known_cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "**new**"
    return _cell(entry["reason"] + (f" ({entry['issue']})" if entry.get("issue") else ""), 100)


def verdict_line(summary: dict[str, Any], mode: str) -> str:
    """`**PASS**: 180 pass, 8 inherited, …`: the gate's verdict and the count of each class."""
    counts = ", ".join(f"{summary[name]} {name}" for name in CLASSES if summary.get(name))
    known = f"; {summary['known_failures']} known failures" if summary.get("known_failures") else ""
    gate = f"; {summary['gate_failures']} against the gate" if summary.get("gate_failures") else ""
    return f"**{summary['gate']}** ({mode} gate): {counts or 'no items'}{known}{gate}."


def _reasoning_table(report: dict[str, Any]) -> list[str]:
    """Whether reasoning survives each provider dialect on each route: the question behind the
    DeepSeek-R1 reasoning lost when streaming (BerriAI/litellm#7942)."""
    features = report["header"].get("capture_features", {})
    dialects = {capture: sorted(f for f in names if f.startswith("reasoning.")) for capture, names in features.items()}
    rows = [
        row
        for row in report["items"]
        if dialects.get(row["capture"]) and row["outcome"] != "skipped" and not row.get("refused")
    ]
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


def _section(report: dict[str, Any], grade: str, title: str, meaning: str) -> list[str]:
    rows = [
        (row, name, verdict)
        for row in report["items"]
        for name, verdict in row.get("verdicts", {}).items()
        if isinstance(verdict, dict) and verdict["outcome"] == grade
    ]
    if not rows:
        return []
    lines = [
        f"## {title}: {len(rows)}",
        "",
        f"Verdicts {meaning}.",
        "",
        "| item | invariant | expected | actual | event | known |",
        "|---|---|---|---|---:|---|",
    ]
    for row, name, verdict in rows:
        reasons = {invariant: entry for entry in row.get("known_failures", []) for invariant in entry["invariants"]}
        first = verdict["violations"][0]
        event = first["event"] if first["event"] is not None else ""
        actual = verdict["reason"] if grade == "inherited" else first["actual"]
        known = _known_cell(reasons.get(name)) if grade == "fail" or name in reasons else ""
        lines.append(f"| `{row['id']}` | `{name}` | {_cell(first['expected'])} | {_cell(actual)} | {event} | {known} |")
    return [*lines, ""]


def _refused(report: dict[str, Any]) -> list[str]:
    rows = [row for row in report["items"] if row.get("refused")]
    if not rows:
        return []
    lines = [
        f"## Refused captures: {len(rows)}",
        "",
        "Captures the loader or the linter refused, so none of their items ran; every problem is listed.",
        "",
        "| capture | problems |",
        "|---|---|",
    ]
    for row in rows:
        # The error's first line is its code (`broken capture [bad-capture]:`); the problems follow.
        found = [line for line in row.get("error", "").splitlines() if line.strip()]
        if found and found[0].startswith("broken capture ["):
            found = found[1:]
        problems = "<br>".join(_cell(line, 300) for line in found)
        lines.append(f"| `{row['capture']}` | {problems} |")
    return [*lines, ""]


def _errored(report: dict[str, Any]) -> list[str]:
    rows = [row for row in report["items"] if row["outcome"] == "errored" and not row.get("refused")]
    if not rows:
        return []
    lines = [f"## Errored: {len(rows)}", "", "| item | error | known |", "|---|---|---|"]
    for row in rows:
        reasons = {invariant: entry for entry in row.get("known_failures", []) for invariant in entry["invariants"]}
        lines.append(f"| `{row['id']}` | {_cell(row.get('error', ''), 160)} | {_known_cell(reasons.get('errored'))} |")
    return [*lines, ""]


def markdown(report: dict[str, Any], unexplained: int = 0) -> str:
    header = report["header"]
    summary = report["summary"]
    lines = [verdict_line(summary, header.get("mode", "default")), ""]
    if unexplained:
        lines += [
            f"> Warning: the expectations file still has {unexplained} `unexplained:` reason(s); "
            "replace each with the real reason and the upstream issue.",
            "",
        ]
    lines += [
        f"# Conformance: `{header['target']}` {header.get('target_version', '')}".rstrip()
        + (f", configuration `{header['configuration']}`" if header.get("configuration") else ""),
        "",
        f"Suite {header['suite_version']}, corpus `{header['corpus_revision']}`, schedules "
        f"{', '.join(header['schedules'])}.",
        "",
        *[f"> Note: {note}" for note in header.get("notes", [])],
        *([""] if header.get("notes") else []),
        "| " + " | ".join(CLASSES) + " | known failures | total |",
        "|" + "---:|" * (len(CLASSES) + 2),
        "| "
        + " | ".join(str(summary[name]) for name in CLASSES)
        + f" | {summary['known_failures']} | {summary['total']} |",
        "",
    ]
    lines += _refused(report)
    lines += _errored(report)
    for grade, title, meaning in _SECTIONS:
        lines += _section(report, grade, title, meaning)
    caught = {name: row for name, row in report["invariants"].items() if any(row[grade] for grade in FAILING_GRADES)}
    if caught:
        lines += [
            "## Invariants that caught something",
            "",
            "| invariant | impact | fail | non-strict | inherited | requirement |",
            "|---|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| `{name}` | {row['impact']} | {row['fail']} | {row['non-strict']} | {row['inherited']} | "
            f"{_cell(row['requirement'], 120)} |"
            for name, row in caught.items()
        ]
        lines.append("")
    lines += _reasoning_table(report)
    lines.append("The exact output bytes of every item that did not pass are in `raw.json` (not committed).")
    return "\n".join(lines) + "\n"
