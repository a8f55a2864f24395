"""Whole-run wall time of `pytest --target=reference` on the default schedules (event, adversarial):
serial, with pytest-xdist `-n 2`, and on the corpus replicated 10x (in a temporary folder), to show
that the cost grows linearly with the corpus.

Each run writes its report into a temporary folder (no snapshots there, so none are compared) and
must pass; its wall time includes the interpreter start, collection and the report.

    python bench/run_time.py [--copies 10] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, ROOT, machine, table


def replicate(corpus: Path, into: Path, copies: int) -> Path:
    """`copies` copies of every capture of `corpus` beside each other, as `NAME-copyN.sse/.yaml`."""
    into.mkdir(parents=True, exist_ok=True)
    for path in corpus.iterdir():
        if path.is_file():
            shutil.copy(path, into / path.name)
    for sse in corpus.rglob("*.sse"):
        meta = sse.with_suffix(".yaml")
        folder = into / sse.parent.relative_to(corpus)
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(copies):
            shutil.copy(sse, folder / f"{sse.stem}-copy{n}.sse")
            if meta.exists():
                shutil.copy(meta, folder / f"{sse.stem}-copy{n}.yaml")
    return into


def pytest_run(args: list[str], report_dir: Path) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system, every process of the run), the exit code, and
    pytest's last line. CPU time is what the run costs; wall time also counts other load."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--target=reference",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--report-dir={report_dir}",
        *args,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, cpu, done.returncode, lines[-1] if lines else done.stderr[-300:]


def run(copies: int, repeat: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        big = replicate(CORPUS, Path(tmp) / "corpus", copies)
        cases = [
            ("default corpus", "serial", []),
            ("default corpus", "-n 2", ["-n", "2"]),
            (f"corpus x{copies}", "serial", [f"--corpus={big}"]),
            (f"corpus x{copies}", "-n 2", [f"--corpus={big}", "-n", "2"]),
        ]
        timings: dict[tuple[str, str], float] = {}
        for corpus, mode, args in cases:
            best, best_cpu = float("inf"), float("inf")
            for attempt in range(repeat):
                seconds, cpu, code, last = pytest_run(args, Path(tmp) / f"reports-{len(timings)}-{attempt}")
                if code != 0:
                    raise SystemExit(f"pytest {' '.join(args)} failed ({code}): {last}")
                best, best_cpu = min(best, seconds), min(best_cpu, cpu)
            timings[corpus, mode] = best
            base = timings.get((corpus, "serial"), best)
            rows.append([corpus, mode, last, f"{best:.1f} s", f"{best_cpu:.1f} s", f"{base / best:.2f}x"])
        small, large = timings["default corpus", "serial"], timings[f"corpus x{copies}", "serial"]
        rows.append([f"x{copies} / x1", "serial", "", f"{large / small:.1f}x the time", "", ""])
        small, large = timings["default corpus", "-n 2"], timings[f"corpus x{copies}", "-n 2"]
        rows.append([f"x{copies} / x1", "-n 2", "", f"{large / small:.1f}x the time", "", ""])
    print(
        f"Whole run, pytest --target=reference, default schedules ({machine()}), best of {repeat}; 1-minute load average at the end: {os.getloadavg()[0]:.1f}"
    )
    print(table(["corpus", "workers", "pytest says", "wall", "CPU", "speed-up vs serial"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    run(args.copies, args.repeat)


if __name__ == "__main__":
    main()
