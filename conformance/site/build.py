"""Building the site into a folder, and the `conformance site` command.

The output folder holds only what the build writes, so that a report removed from REPORTS leaves no
stale page behind: the build empties its own subfolders first. It refuses a folder that holds other
files and no `.conformance-site` marker, so a wrong `-o` never deletes anyone's work.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

from conformance.corpus import CaptureError, default_corpus, load_corpus
from conformance.invariants import FAILING_GRADES
from conformance.site.failures import failing_items
from conformance.site.features import coverage
from conformance.site.matrix import badge, matrix, summary_markdown
from conformance.site.pages import coverage_page, implementation_page, index_page
from conformance.site.reports import LoadedReport, SiteError, load_reports

__all__ = ["build", "command"]

MARKER = ".conformance-site"
SUMMARY_FILE = "summary.md"
_OWN_FOLDERS = ("assets", "badges", "data", "impl")
_ASSETS = ("style.css", "favicon.svg")
_OWN_FILES = ("index.html", "coverage.html", SUMMARY_FILE, MARKER)


def _implementation(report: LoadedReport) -> dict[str, Any]:
    """The data of an implementation page: the report's header, its failing items, and the
    invariants those items break or that caught something in the run."""
    items = failing_items(report)
    table = report.data["invariants"]
    named = {verdict["invariant"] for item in items for verdict in item["verdicts"]}
    caught = {name for name, row in table.items() if any(row.get(grade) for grade in FAILING_GRADES)}
    return {
        "slug": report.slug,
        "facts": {key: value for key, value in report.header.items() if key != "capture_features"},
        "exact_bytes": len(report.raw),
        "invariants": {name: table[name] for name in sorted(named | caught) if name in table},
        "items": items,
    }


def _prepare(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise SiteError(f"{output}: is a file, not a folder for the site")
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER).is_file():
        raise SiteError(
            f"{output}: is not empty and was not built by `conformance site` (no {MARKER} in it); "
            "choose an empty or new folder"
        )
    output.mkdir(parents=True, exist_ok=True)
    for name in _OWN_FOLDERS:
        shutil.rmtree(output / name, ignore_errors=True)
    for name in _OWN_FILES:
        (output / name).unlink(missing_ok=True)


def _json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _html(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build(reports_dir: Path, output: Path, corpus_root: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Build the site from `reports_dir` into `output`; returns the matrix data and the warnings.
    Raises SiteError (a report that cannot be read, an output folder that is not the site's) or
    CaptureError (a corpus that cannot be read)."""
    reports, warnings = load_reports(reports_dir)
    corpus = load_corpus(corpus_root or default_corpus())
    table = matrix(reports)
    rows = {row["slug"]: row for row in table["rows"]}
    _prepare(output)
    (output / MARKER).write_text(
        "built by `conformance site`; the build empties this folder's own files\n", encoding="utf-8"
    )
    _json(output / "data" / "matrix.json", table)
    _html(output / "index.html", index_page(table))
    for report in reports:
        row = rows[report.slug]
        impl = _implementation(report)
        _json(output / "data" / "impl" / f"{report.slug}.json", impl)
        _html(output / "impl" / f"{report.slug}.html", implementation_page(row, impl, row["routes"]))
        _json(output / row["badge"], badge(row))
    covered = coverage(corpus, reports)
    _json(output / "data" / "coverage.json", covered)
    _html(output / "coverage.html", coverage_page(covered))
    (output / "assets").mkdir()
    for name in _ASSETS:
        (output / "assets" / name).write_bytes(files("conformance.site").joinpath("assets").joinpath(name).read_bytes())
    (output / SUMMARY_FILE).write_text(summary_markdown(table), encoding="utf-8")
    return table, warnings


def command(reports_dir: Path, output: Path, corpus_root: Path | None, summary: Path | None, out: TextIO) -> int:
    """`conformance site`: 0 when built, 2 when a report, the corpus or the output folder is unusable."""
    try:
        table, warnings = build(reports_dir, output, corpus_root)
    except (SiteError, CaptureError) as error:
        print(f"error: {error}", file=out)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if summary is not None:
        # GitHub Actions gives every step the same $GITHUB_STEP_SUMMARY file: append, never replace.
        try:
            with summary.open("a", encoding="utf-8") as handle:
                handle.write(summary_markdown(table))
        except OSError as error:
            print(f"error: cannot append the summary to {summary}: {error.strerror or error}", file=out)
            return 2
    count = len(table["rows"])
    print(f"wrote {output / 'index.html'}: {count} implementation{'' if count == 1 else 's'}", file=out)
    return 0
