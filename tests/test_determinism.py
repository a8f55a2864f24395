"""Two runs of the same target on the same corpus give byte-identical reports; timings go to raw.json.

`report.json` (and `summary.md`) hold nothing that varies between runs: what does (each item's
time, the run's total time, the exact output bytes) goes to `raw.json` beside it, which is not
committed. Each target runs twice, in separate processes and at the same time (so they also share
the machine, as CI runners do), into separate report folders; the reports and the summaries must be
the same to the byte. The reference passes the gate; a mutant fails, so its report also carries
violations and the output of failing items. The mutant runs part of the corpus (`-k`), so its
files are the partial ones, which must be as deterministic.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report import FORMAT, slug

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    pytest.param("reference", [], id="reference"),
    pytest.param("mutant:finish-chunk-twice", ["-k", "openai-chat/openai"], id="mutant-finish-chunk-twice"),
]


def _start(target: str, extra: list[str], report_dir: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--target={target}",
        f"--report-dir={report_dir}",
        "-q",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize(("target", "extra"), RUNS)
def test_two_runs_give_identical_reports(target: str, extra: list[str], tmp_path: Path) -> None:
    runs = [tmp_path / "first", tmp_path / "second"]
    processes = [_start(target, extra, run) for run in runs]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=600)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    suffix = ".partial" if extra else ""
    folders = [run / slug(target) for run in runs]
    for folder, output in zip(folders, outputs, strict=True):
        assert (folder / f"report{suffix}.json").is_file(), output[-3000:]
        # A partial run writes only its own files, never the full run's.
        assert not extra or not (folder / "report.json").exists()
    texts = [(folder / f"report{suffix}.json").read_text(encoding="utf-8") for folder in folders]
    reports = [json.loads(text) for text in texts]
    summary = reports[0]["summary"]
    assert summary["total"] > 0
    if target == "reference":
        assert "partial" not in reports[0]["header"]
        assert summary["gate"] == "PASS" and summary["fail"] == summary["errored"] == 0, outputs[0][-3000:]
    else:
        assert reports[0]["header"]["partial"] == "-k 'openai-chat/openai'"
        assert summary["gate"] == "FAIL" and summary["fail"] > 0, (
            "the mutant should fail somewhere, so that violations and outputs are compared too"
        )
        assert any("output" in row for row in reports[0]["items"])
    assert texts[0] == texts[1]
    summaries = [(folder / f"summary{suffix}.md").read_text(encoding="utf-8") for folder in folders]
    assert summaries[0] == summaries[1]
    for folder, report in zip(folders, reports, strict=True):
        _assert_raw_holds_what_varies(json.loads((folder / f"raw{suffix}.json").read_text(encoding="utf-8")), report)


def _assert_raw_holds_what_varies(raw: dict, report: dict) -> None:
    """raw.json: the run's total time, each item's time, and the exact bytes of each item that did
    not pass; report.json: none of them."""
    assert raw["format"] == FORMAT and raw["target"] == report["header"]["target"]
    assert isinstance(raw["total_seconds"], float) and raw["total_seconds"] > 0
    rows = {row["id"]: row for row in report["items"]}
    assert list(raw["items"]) == list(rows)
    ran = [item for item, row in rows.items() if row["outcome"] != "skipped"]
    assert ran and all(raw["items"][item]["seconds"] > 0 for item in ran)
    for item, row in rows.items():
        if "output" in row:
            assert len(base64.b64decode(raw["items"][item]["base64"])) == row["output"]["bytes"]
            assert raw["items"][item]["writes"] >= (1 if row["output"]["bytes"] else 0)
        else:
            assert "base64" not in raw["items"][item]
    text = json.dumps(report)
    assert '"seconds"' not in text and '"total_seconds"' not in text and '"base64"' not in text
