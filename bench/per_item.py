"""Time per item of `pytest --target=reference`, before and after a change that grew the corpus.

The capture items only (`--no-transport`: the transport checks are a fixed set whose time is mostly
the pauses they are made of). Three runs, alternated `--repeat` times:

- before: the code and corpus of `--before` (a git revision, checked out in a temporary worktree
  and put first on PYTHONPATH, as its own plugin);
- after, same captures: this checkout's code on only the captures `--before` had, as they are now
  (their `expect` may have grown): what the new checks cost per item;
- after: this checkout's code and corpus.

Each run writes its report into a temporary folder and must pass. Per item is the run's wall and CPU
time (every process of the run) over its items that ran (report.json, skipped ones left out), so
the interpreter start and collection are shared out too: compare the rows, not the absolute numbers.

    python bench/per_item.py --before 66a8640 [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, ROOT, machine, table


def run(code: Path, corpus: Path, report_dir: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and the number of items that ran, for one reference run."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--target=reference",
        "--no-transport",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        f"--corpus={corpus}",
        f"--report-dir={report_dir}",
    ]
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{code}: pytest failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    reports = list(report_dir.rglob("report*.json"))
    items = json.loads(reports[0].read_text(encoding="utf-8"))["items"]
    return seconds, cpu, sum(1 for item in items if item["outcome"] != "skipped")


def same_captures(before_corpus: Path, into: Path) -> Path:
    """This checkout's versions of the captures `before_corpus` has, with this checkout's registry."""
    into.mkdir(parents=True)
    shutil.copy(CORPUS / "features.txt", into / "features.txt")
    for meta in before_corpus.rglob("*.yaml"):
        relative = meta.relative_to(before_corpus)
        now = CORPUS / relative
        if now.is_file() and now.with_suffix(".sse").is_file():
            (into / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(now, into / relative)
            shutil.copy(now.with_suffix(".sse"), into / relative.with_suffix(".sse"))
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the git revision to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-per-item-") as tmp:
        worktree = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.before], cwd=ROOT, check=True)
        try:
            runs = {
                "before": (worktree, worktree / "corpus"),
                "after, same captures": (ROOT, same_captures(worktree / "corpus", Path(tmp) / "same")),
                "after": (ROOT, CORPUS),
            }
            timings: dict[str, list[tuple[float, float, int]]] = {name: [] for name in runs}
            for attempt in range(args.repeat):
                for name, (code, corpus) in runs.items():
                    timings[name].append(run(code, corpus, Path(tmp) / f"reports-{name}-{attempt}"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=True)
    rows = []
    base = statistics.median(wall / items for wall, _, items in timings["before"])
    for name, samples in timings.items():
        per_item = statistics.median(wall / items for wall, _, items in samples)
        cpu_per_item = statistics.median(cpu / items for _, cpu, items in samples)
        wall = statistics.median(wall for wall, _, _ in samples)
        rows.append(
            [
                name,
                samples[0][2],
                f"{wall:.2f} s",
                f"{per_item * 1000:.1f} ms",
                f"{cpu_per_item * 1000:.1f} ms",
                f"{per_item / base - 1:+.0%}",
            ]
        )
    print(
        f"pytest --target=reference --no-transport, before = {args.before} ({machine()}), median of {args.repeat} "
        f"alternated runs; 1-minute load average at the end: {os.getloadavg()[0]:.1f}"
    )
    print(table(["run", "items", "wall", "wall per item", "CPU per item", "per item vs before"], rows))


if __name__ == "__main__":
    main()
