"""Two runs of the same target on the same corpus give identical reports, apart from timing.

INTERPRETING.md §7: reports are deterministic except for the fields listed in
`conformance.report.TIMING_FIELDS`. Each target runs twice, in separate processes and at the same
time (so they also share the machine, as CI runners do), into separate report folders; the JSON
reports, with every timing field deleted wherever it occurs, must dump to the same bytes, and the
Markdown summaries must be identical. The reference passes everything; a mutant fails, so its
report also carries violations and the raw output of failing items.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.report import TIMING_FIELDS, slug

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    pytest.param("reference", [], id="reference"),
    pytest.param("mutant:finish-chunk-twice", ["-k", "openai-chat/openai"], id="mutant-finish-chunk-twice"),
]


def _without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_timing(item) for key, item in value.items() if key not in TIMING_FIELDS}
    if isinstance(value, list):
        return [_without_timing(item) for item in value]
    return value


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
    folders = [run / slug(target) for run in runs]
    for folder, output in zip(folders, outputs, strict=True):
        assert (folder / "report.json").is_file(), output[-3000:]
    reports = [json.loads((folder / "report.json").read_text(encoding="utf-8")) for folder in folders]
    assert reports[0]["summary"]["total"] > 0
    if target == "reference":
        assert reports[0]["summary"]["failed"] == reports[0]["summary"]["errored"] == 0, outputs[0][-3000:]
    else:
        assert reports[0]["summary"]["failed"] > 0, (
            "the mutant should fail somewhere, so that violations are compared too"
        )
    first, second = (json.dumps(_without_timing(report), sort_keys=True, ensure_ascii=False) for report in reports)
    assert first == second
    summaries = [(folder / "summary.md").read_text(encoding="utf-8") for folder in folders]
    assert summaries[0] == summaries[1]


def test_timing_fields_are_only_timing() -> None:
    """What the comparison deletes: only the declared timing fields, nowhere a result."""
    assert set(TIMING_FIELDS) == {"seconds", "total_seconds"}
    row = {
        "id": "x",
        "seconds": 1.5,
        "verdicts": {"a": {"outcome": "fail", "violations": [{"seconds": 2}]}},
        "summary": {"total_seconds": 3, "total": 1},
    }
    assert _without_timing(row) == {
        "id": "x",
        "verdicts": {"a": {"outcome": "fail", "violations": [{}]}},
        "summary": {"total": 1},
    }
