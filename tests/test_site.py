"""conformance.site: `conformance site REPORTS -o SITE`, the static report site.

Built from the committed reports (once for the module) and from small synthetic reports written
here, so that escaping, routes the suite does not know yet, configurations and broken reports are
each tested on purpose. The browser's view of the same pages is tests/test_site_browser.py.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance import report
from conformance.cli import main
from conformance.site import build
from conformance.site.matrix import DISPLAY_ORDER
from conformance.snapshots import normalized

ROOT = Path(__file__).resolve().parent.parent
HEADER: dict[str, Any] = {
    "target": "toy",
    "target_version": "1.0",
    "suite_version": "0.1.0",
    "corpus": "corpus",
    "corpus_revision": "sha256:0123456789abcdef",
    "schedules": ["event"],
    "routes": ["openai-chat-to-openai-chat"],
    "mode": "default",
}
ROUTE = "openai-chat-to-openai-chat"
HOSTILE_BODY = (
    b'data: {"choices":[{"index":0,"delta":{"content":"<script>alert(1)</script>"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"</pre><img src=x onerror=alert(2)>"}}]}\r\n\r\n'
    b"data: [DONE]\n\n"
)


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def item(capture: str, outcome: str, *, route: str = ROUTE, schedule: str = "event", **extra: Any) -> dict[str, Any]:
    gate = "new" if outcome in ("fail", "errored") else "ok"
    return {
        "id": f"{capture}[{route}][{schedule}]",
        "capture": capture,
        "route": route,
        "schedule": schedule,
        "outcome": outcome,
        "gate": gate,
        "ending": "complete",
        **extra,
    }


def write_report(
    folder: Path, rows: list[dict[str, Any]], raw: dict[str, bytes] | None = None, **header: Any
) -> dict[str, Any]:
    data = report.build({**HEADER, **header}, rows)
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    if raw is not None:
        entries = {
            key: {"seconds": 0.1, "writes": 1, "base64": base64.b64encode(body).decode()} for key, body in raw.items()
        }
        raw_data = {"format": report.FORMAT, "target": data["header"]["target"], "total_seconds": 1.0, "items": entries}
        (folder / "raw.json").write_text(json.dumps(raw_data), encoding="utf-8")
    return data


def hostile_item(body: bytes = HOSTILE_BODY) -> dict[str, Any]:
    """A failing item whose output, verdicts and known-failure reason all carry markup."""
    verdicts = {
        "semantic.text": {
            "invariant": "semantic.text",
            "outcome": "fail",
            "impact": "breaks",
            "reason": "text differs: <b>bold</b>",
            "violations": [
                {
                    "message": "text differs <i>",
                    "expected": "<script>expected()</script>",
                    "actual": {"html": "</td><script>actual()</script>"},
                    "event": 1,
                    "path": "choices[0].delta.content",
                }
            ],
        },
        "openai.chunk.schema": {
            "invariant": "openai.chunk.schema",
            "outcome": "non-strict",
            "impact": "strict",
            "reason": "chunk breaks the schema",
            "violations": [{"message": "no id", "expected": "an id", "actual": None, "event": 0, "path": ""}],
        },
        "openai.finish.once": "pass",
    }
    known = [
        {
            "capture": "openai-chat/evil/markup",
            "route": ROUTE,
            "invariants": ["semantic.text"],
            "reason": "drops <script>alert(3)</script>; see https://example.com/x?a=1&b=2.",
            "issue": "owner/repo#12",
        }
    ]
    row = item(
        "openai-chat/evil/markup",
        "fail",
        verdicts=verdicts,
        known_failures=known,
        output={"bytes": len(body), "status": 200, "events": normalized(body)},
    )
    row["gate"] = "known"
    return row


def events(page: str, mark: str) -> set[int]:
    """The indices of the events a page marks `ev-<mark>`."""
    return {int(n) for n in re.findall(rf'<li class="ev ev-{mark}" id="[^"]+" data-event="(\d+)"', page)}


def copy_reports(destination: Path) -> Path:
    """The repository's reports (report.json and raw.json of each folder), copied so that the site
    and the test read the same ones even while a run rewrites reports/."""
    for path in sorted((ROOT / "reports").glob("*/report.json")):
        folder = destination / path.parent.name
        folder.mkdir(parents=True)
        for name in ("report.json", "raw.json"):
            if (path.parent / name).is_file():
                shutil.copyfile(path.parent / name, folder / name)
    return destination


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_reports(tmp_path_factory.mktemp("reports") / "reports")


@pytest.fixture(scope="module")
def committed(reports: Path) -> list[str]:
    names = sorted(path.parent.name for path in reports.glob("*/report.json"))
    assert names, "no report in reports/ to build from"
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, reports: Path) -> Path:
    output = tmp_path_factory.mktemp("site") / "site"
    build(reports, output)
    return output


def test_the_committed_reports_give_every_page_badge_and_data_file(site: Path, committed: list[str]) -> None:
    for name in ("index.html", "coverage.html", "summary.md", "assets/style.css", "data/matrix.json"):
        assert (site / name).is_file(), name
    assert (site / "data" / "coverage.json").is_file()
    for slug in committed:
        assert (site / "impl" / f"{slug}.html").is_file()
        assert (site / "data" / "impl" / f"{slug}.json").is_file()
        assert (site / "badges" / f"{slug}.json").is_file()


def test_each_row_shows_its_report_summary(site: Path, reports: Path, committed: list[str]) -> None:
    matrix = json.loads((site / "data" / "matrix.json").read_text(encoding="utf-8"))
    index = (site / "index.html").read_text(encoding="utf-8")
    assert sorted(row["slug"] for row in matrix["rows"]) == committed
    for row in matrix["rows"]:
        summary = json.loads((reports / row["slug"] / "report.json").read_text(encoding="utf-8"))["summary"]
        assert row["counts"] == {name: summary[name] for name in DISPLAY_ORDER}
        assert (row["gate"], row["known_failures"], row["total"]) == (
            summary["gate"],
            summary["known_failures"],
            summary["total"],
        )
        html_row = re.search(rf'<tr id="row-{re.escape(row["slug"])}".*?</tr>', index).group(0)
        shown = dict(re.findall(r'data-class="([a-z_-]+)">(\d+)<', html_row))
        expected = {name: summary[name] for name in DISPLAY_ORDER}
        assert shown == {
            **{k: str(v) for k, v in expected.items()},
            "known_failures": str(summary["known_failures"]),
            "total": str(summary["total"]),
        }


def test_rows_are_sorted_by_fewest_fail_then_most_pass_then_name(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shapes = {  # folder: (fail, pass, target)
        "worst": (2, 1, "worst"),
        "fewer-pass": (1, 2, "b"),
        "more-pass-b": (1, 3, "b"),
        "more-pass-a": (1, 3, "a"),
        "clean": (0, 1, "clean"),
    }
    for folder, (fails, passes, target) in shapes.items():
        rows = [item(f"openai-chat/p/f{n}", "fail") for n in range(fails)]
        rows += [item(f"openai-chat/p/p{n}", "pass") for n in range(passes)]
        write_report(reports / folder, rows, target=target)
    table, _ = build(reports, tmp_path / "site")
    assert [row["slug"] for row in table["rows"]] == ["clean", "more-pass-a", "more-pass-b", "fewer-pass", "worst"]


def test_captured_markup_is_escaped_and_the_offending_event_highlighted(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    row = hostile_item()
    write_report(reports / "evil", [row], raw={row["id"]: HOSTILE_BODY}, target="<script>alert(0)</script>")
    build(reports, tmp_path / "site")
    pages = {path.name: path.read_text(encoding="utf-8") for path in (tmp_path / "site").rglob("*.html")}
    for name, text in pages.items():
        assert "<script" not in text.lower(), name
        assert "<img" not in text.lower(), name
    page = pages["evil.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "exact bytes from raw.json" in page
    assert "␍" in page  # the CRLF of the second event, kept visible
    assert events(page, "offending") == {1}
    assert events(page, "deviation") == {0}
    assert '<a class="evlink" href="#item-openai-chat-evil-markup-openai-chat-to-openai-chat-event-ev-1">' in page
    # The known-failure reason and issue become links, and only the URL is taken into the link.
    assert '<a href="https://example.com/x?a=1&amp;b=2" rel="noopener noreferrer">' in page
    assert '<a href="https://github.com/owner/repo/issues/12" rel="noopener noreferrer">owner/repo#12</a>' in page
    assert "known failure" in page


def test_without_raw_json_the_report_events_are_shown_and_marked(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    row = hostile_item()
    other_run = HOSTILE_BODY.replace(b"alert(1)", b"alert(9)")
    write_report(reports / "from-raw-of-another-run", [row], raw={row["id"]: other_run})
    write_report(reports / "without-raw", [hostile_item()])
    build(reports, tmp_path / "site")
    for slug in ("from-raw-of-another-run", "without-raw"):
        page = (tmp_path / "site" / "impl" / f"{slug}.html").read_text(encoding="utf-8")
        assert "rebuilt from report.json" in page and "exact bytes from raw.json" not in page
        assert "alert(9)" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert events(page, "offending") == {1}


def test_badges_follow_the_shields_endpoint_format(
    site: Path, reports: Path, committed: list[str], tmp_path: Path
) -> None:
    for slug in committed:
        summary = json.loads((reports / slug / "report.json").read_text(encoding="utf-8"))["summary"]
        badge = json.loads((site / "badges" / f"{slug}.json").read_text(encoding="utf-8"))
        assert set(badge) == {"schemaVersion", "label", "message", "color"}
        assert badge["schemaVersion"] == 1 and badge["label"] == "conformance"
        errored = f" · {summary['errored']} errored" if summary["errored"] else ""
        assert badge["message"] == f"{summary['pass']} pass · {summary['fail']} fail{errored}"
        clean = not summary["fail"] and not summary["errored"]
        assert badge["color"] == ("red" if summary["gate"] == "FAIL" else "brightgreen" if clean else "yellow")
    write_report(tmp_path / "reports" / "red", [item("openai-chat/p/f", "fail"), item("openai-chat/p/e", "errored")])
    build(tmp_path / "reports", tmp_path / "site")
    red = json.loads((tmp_path / "site" / "badges" / "red.json").read_text(encoding="utf-8"))
    assert red == {"schemaVersion": 1, "label": "conformance", "message": "0 pass · 1 fail · 1 errored", "color": "red"}


def test_the_summary_is_a_markdown_table_appended_to_the_step_summary(
    reports: Path, committed: list[str], tmp_path: Path
) -> None:
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("# An earlier step\n", encoding="utf-8")
    code, out = cli("site", str(reports), "-o", str(tmp_path / "site"), "--summary", str(step_summary))
    assert code == 0, out
    assert out.startswith(f"wrote {tmp_path / 'site' / 'index.html'}: {len(committed)} implementations")
    written = (tmp_path / "site" / "summary.md").read_text(encoding="utf-8")
    assert step_summary.read_text(encoding="utf-8") == "# An earlier step\n" + written
    lines = written.splitlines()
    assert lines[0] == "## Streaming conformance"
    head = next(line for line in lines if line.startswith("| implementation"))
    assert head == "| implementation | gate | " + " | ".join([*DISPLAY_ORDER, "known failures", "total"]) + " |"
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == len(committed)
    reference = json.loads((reports / "reference" / "report.json").read_text(encoding="utf-8"))
    counts = " | ".join(str(reference["summary"][name]) for name in DISPLAY_ORDER)
    assert f"| `reference` {reference['header']['target_version']} | **PASS** | {counts} |" in written


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda text: text[:-20], "is not JSON"),
        (lambda text: text.replace('"conformance-report/2"', '"conformance-report/1"'), "field format: not a"),
        (lambda text: text.replace('"fail": 1,', '"fail": "one",', 1), "field summary.fail: 'one' is not of type"),
        (lambda text: text.replace('"gate": "PASS"', '"gate": "MAYBE"'), "field summary.gate: 'MAYBE' is not one of"),
        (lambda text: text.replace('"outcome": "fail"', '"outcome": "broken"', 1), "field items[0].outcome"),
    ],
    ids=["not-json", "format", "summary-type", "gate", "item-outcome"],
)
def test_a_broken_report_is_an_error_naming_file_and_field(tmp_path: Path, breakage: Any, message: str) -> None:
    reports = tmp_path / "reports"
    write_report(reports / "good", [item("openai-chat/p/a", "pass")])
    broken = reports / "broken" / "report.json"
    data = report.build(HEADER, [item("openai-chat/p/f", "fail"), item("openai-chat/p/p", "pass")])
    data["summary"]["gate"] = "PASS"
    broken.parent.mkdir()
    broken.write_text(breakage(json.dumps(data, indent=1)), encoding="utf-8")
    code, out = cli("site", str(reports), "-o", str(tmp_path / "site"))
    assert code == 2
    assert out.startswith(f"error: {broken}: ") and message in out
    assert "Traceback" not in out
    assert not (tmp_path / "site").exists()


def test_routes_come_from_the_items(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    responses = "openai-responses-to-openai-chat"
    write_report(
        reports / "responses",
        [item("openai-responses/openai/text", "fail", route=responses), item("openai-chat/p/a", "pass")],
        routes=[responses, ROUTE],
    )
    table, _ = build(reports, tmp_path / "site")
    assert table["routes"] == [ROUTE, responses]
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    page = (tmp_path / "site" / "impl" / "responses.html").read_text(encoding="utf-8")
    header = '<span class="proto">openai-responses</span>'
    assert header in index and header in page
    assert 'data-item="openai-responses/openai/text[openai-responses-to-openai-chat][event]"' in page


def test_a_configuration_labels_its_row(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_report(
        reports / "ccr-2.0.0-transformers",
        [item("openai-chat/p/a", "pass")],
        target="ccr",
        target_version="2.0.0",
        configuration="transformers",
    )
    write_report(reports / "ccr-2.0.0", [item("openai-chat/p/a", "pass")], target="ccr", target_version="2.0.0")
    table, _ = build(reports, tmp_path / "site")
    labels = {row["slug"]: row["label"] for row in table["rows"]}
    assert labels == {"ccr-2.0.0": "ccr 2.0.0", "ccr-2.0.0-transformers": "ccr 2.0.0 (transformers)"}
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<span class="config" title="configuration">transformers</span>' in index
    summary = (tmp_path / "site" / "summary.md").read_text(encoding="utf-8")
    assert "| `ccr` 2.0.0 (transformers) | **PASS** |" in summary
    page = (tmp_path / "site" / "impl" / "ccr-2.0.0-transformers.html").read_text(encoding="utf-8")
    assert "<dt>configuration</dt><dd>transformers</dd>" in page


def test_every_failing_grid_cell_opens_an_item_on_its_page(site: Path, committed: list[str]) -> None:
    for slug in committed:
        page = (site / "impl" / f"{slug}.html").read_text(encoding="utf-8")
        data = json.loads((site / "data" / "impl" / f"{slug}.json").read_text(encoding="utf-8"))
        ids = set(re.findall(r'<section class="item [^"]+" id="([^"]+)"', page))
        assert ids == {entry["anchor"] for entry in data["items"]}
        linked = set(re.findall(r'<td class="cell c-(?:fail|errored)[^"]*"><a href="#([^"]+)"', page))
        assert linked <= ids
        failing = sum(1 for entry in data["items"] if entry["outcome"] in ("fail", "errored"))
        assert bool(linked) == bool(failing)


def test_the_same_reports_give_the_same_bytes(site: Path, reports: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build(reports, again)
    first = {path.relative_to(site): path.read_bytes() for path in site.rglob("*") if path.is_file()}
    second = {path.relative_to(again): path.read_bytes() for path in again.rglob("*") if path.is_file()}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_coverage_matches_what_the_reports_ran(site: Path, reports: Path, committed: list[str]) -> None:
    coverage = json.loads((site / "data" / "coverage.json").read_text(encoding="utf-8"))
    captures = {capture["id"]: capture for capture in coverage["captures"]}
    for slug in committed:
        header = json.loads((reports / slug / "report.json").read_text(encoding="utf-8"))["header"]
        if header["corpus_revision"] != coverage["corpus_revision"]:
            continue
        for capture, features in header["capture_features"].items():
            assert captures[capture]["features"] == sorted(features)
    assert all(feature["registered"] for feature in coverage["features"])
    page = (site / "coverage.html").read_text(encoding="utf-8")
    for route in coverage["routes"]:
        upstream, _, client = route.partition("-to-")
        assert f'<span class="proto">{upstream}</span> →<br><span class="proto">{client}</span>' in page


def test_a_folder_with_only_a_partial_run_is_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    write_report(reports / "full", [item("openai-chat/p/a", "pass")])
    (reports / "partial-only").mkdir()
    (reports / "partial-only" / "report.partial.json").write_text("{}", encoding="utf-8")
    code, out = cli("site", str(reports), "-o", str(tmp_path / "site"))
    assert code == 0, out
    assert f"warning: {reports / 'partial-only'}: has only a partial run" in capsys.readouterr().err
    assert not (tmp_path / "site" / "impl" / "partial-only.html").exists()


def test_the_output_folder_is_never_someone_elses(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_report(reports / "one", [item("openai-chat/p/a", "pass")])
    write_report(reports / "two", [item("openai-chat/p/a", "pass")])
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me", encoding="utf-8")
    code, out = cli("site", str(reports), "-o", str(theirs))
    assert code == 2 and "is not empty and was not built by `conformance site`" in out
    assert (theirs / "notes.txt").read_text(encoding="utf-8") == "keep me"
    # A folder the site built is rebuilt in place: a report that went away leaves no page behind.
    site = tmp_path / "site"
    assert cli("site", str(reports), "-o", str(site))[0] == 0
    (reports / "two" / "report.json").unlink()
    assert cli("site", str(reports), "-o", str(site))[0] == 0
    assert sorted(path.name for path in (site / "impl").iterdir()) == ["one.html"]


def test_no_report_and_no_corpus_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out = cli("site", str(tmp_path / "empty"), "-o", str(tmp_path / "site"))
    assert (
        code == 2
        and out
        == f"error: {tmp_path / 'empty'}: holds no report.json (expected {tmp_path / 'empty'}/<implementation>/report.json)\n"
    )
    write_report(tmp_path / "reports" / "one", [item("openai-chat/p/a", "pass")])
    code, out = cli("site", str(tmp_path / "reports"), "-o", str(tmp_path / "site"), "--corpus", str(tmp_path / "nope"))
    assert code == 2 and out.startswith("error: ") and "is not a folder of captures" in out
