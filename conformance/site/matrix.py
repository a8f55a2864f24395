"""The matrix: one row per report, its capture × route grid, its badge, and the Markdown summary.

Rows are sorted by fewest `fail`, then most `pass`, then label. Routes are whatever the items name,
so a protocol the suite learns later shows up as new columns without a change here.
"""

from __future__ import annotations

from typing import Any

from conformance.results import CLASSES
from conformance.site.failures import anchors, shown
from conformance.site.reports import LoadedReport

__all__ = ["DISPLAY_ORDER", "badge", "label", "matrix", "summary_markdown"]

DISPLAY_ORDER = ("pass", "non-strict", "inherited", "fail", "errored", "skipped")
"""The classes in the order the pages show them: the bar runs from pass to skipped."""
_WORST = {name: rank for rank, name in enumerate(CLASSES)}
_AGAINST_GATE = frozenset({"new", "fixed"})


def label(header: dict[str, Any]) -> str:
    """`litellm 1.106.2`, or `ccr 2.0.0 (transformers)` for a report of one configuration."""
    text = f"{header['target']} {header['target_version']}".strip()
    configuration = header.get("configuration")
    return f"{text} ({configuration})" if configuration else text


def _routes(items: list[dict[str, Any]]) -> list[str]:
    # A refused capture's row has no route: it ran on none.
    return sorted({row["route"] for row in items if row["route"]})


def _grid(report: LoadedReport) -> dict[str, dict[str, dict[str, Any]]]:
    """capture → route → cell: the worst class over the schedules, which item the cell opens (the
    worst, preferring one its page shows), and whether any of them is a known failure or against
    the gate. A refused capture fills every route of the report, errored: none of its items ran."""
    routes = _routes(report.items)
    ids = anchors(report.items)
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in report.items:
        for route in [row["route"]] if row["route"] else routes:
            by_cell.setdefault((row["capture"], route), []).append(row)
    grid: dict[str, dict[str, dict[str, Any]]] = {}
    for (capture, route), rows in sorted(by_cell.items()):
        rows = sorted(rows, key=lambda row: (_WORST[row["outcome"]], not shown(row), row["id"]))
        first = rows[0]
        cell: dict[str, Any] = {
            "class": first["outcome"],
            "item": first["id"],
            "schedules": {row["schedule"] or "refused": row["outcome"] for row in sorted(rows, key=lambda r: r["id"])},
            "known": any(row["gate"] == "known" for row in rows),
            "against_gate": any(row["gate"] in _AGAINST_GATE for row in rows),
        }
        if first["id"] in ids:
            cell["anchor"] = ids[first["id"]]
        grid.setdefault(capture, {})[route] = cell
    return grid


def _row(report: LoadedReport) -> dict[str, Any]:
    header, summary = report.header, report.summary
    return {
        "slug": report.slug,
        "label": label(header),
        "target": header["target"],
        "version": header["target_version"],
        "configuration": header.get("configuration"),
        "mode": header["mode"],
        "suite_version": header["suite_version"],
        "corpus_revision": header["corpus_revision"],
        "gate": summary["gate"],
        "counts": {name: summary[name] for name in DISPLAY_ORDER},
        "known_failures": summary["known_failures"],
        "gate_failures": summary["gate_failures"],
        "total": summary["total"],
        "page": f"impl/{report.slug}.html",
        "badge": f"badges/{report.slug}.json",
        "routes": _routes(report.items),
        "grid": _grid(report),
    }


def matrix(reports: list[LoadedReport]) -> dict[str, Any]:
    """The data of the matrix page: the rows in their order, and every route and capture they name."""
    rows = sorted(
        (_row(report) for report in reports),
        key=lambda row: (row["counts"]["fail"], -row["counts"]["pass"], row["label"], row["slug"]),
    )
    return {
        "classes": list(DISPLAY_ORDER),
        "routes": sorted({route for row in rows for route in row["routes"]}),
        "captures": sorted({capture for row in rows for capture in row["grid"]}),
        "rows": rows,
    }


def badge(row: dict[str, Any]) -> dict[str, Any]:
    """A shields.io endpoint badge: red when the gate fails, yellow while known failures remain,
    green when nothing fails."""
    counts = row["counts"]
    message = f"{counts['pass']} pass · {counts['fail']} fail"
    if counts["errored"]:
        message += f" · {counts['errored']} errored"
    if row["gate"] == "FAIL":
        color = "red"
    elif counts["fail"] or counts["errored"]:
        color = "yellow"
    else:
        color = "brightgreen"
    return {"schemaVersion": 1, "label": "conformance", "message": message, "color": color}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(data: dict[str, Any]) -> str:
    """The matrix as a Markdown table, for `$GITHUB_STEP_SUMMARY` and summary.md."""
    columns = [*DISPLAY_ORDER, "known failures", "total"]
    lines = [
        "## Streaming conformance",
        "",
        "Items per class for each implementation, fewest `fail` first. The default gate fails on `fail` and",
        "`errored` items that are not known failures; `--strict` also on `non-strict` and `inherited`.",
        "",
        "| implementation | gate | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for row in data["rows"]:
        implementation = f"`{_cell(row['target'])}` {_cell(row['version'])}".rstrip()
        if row["configuration"]:
            implementation += f" ({_cell(row['configuration'])})"
        gate = f"**{row['gate']}**" + (" (strict)" if row["mode"] == "strict" else "")
        counts = [str(row["counts"][grade]) for grade in DISPLAY_ORDER]
        cells = [implementation, gate, *counts, str(row["known_failures"]), str(row["total"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
