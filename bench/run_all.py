"""Every benchmark in one run, one table each (`nox -s bench` runs this).

    python bench/run_all.py [--quick]

`--quick` uses a 2 MB corpus for SSE parsing and one repetition everywhere; the figures in
bench/RESULTS.md come from the full run.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

import attribution
import check_throughput
import run_time
import sse_throughput
from _common import machine

BENCH = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--litellm-python",
        default=None,
        help="an interpreter with litellm[proxy] installed, for the overhead benchmark (default: this one)",
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    print(f"# Benchmarks, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}\n")
    sse_throughput.run(2.0 if args.quick else 20.0, repeat)
    print()
    check_throughput.run(repeat)
    print()
    run_time.run(10, 1)
    print()
    attribution.run(repeat)
    print()
    python = args.litellm_python or sys.executable
    subprocess.run([python, str(BENCH / "litellm_overhead.py"), "--repeat", str(repeat)], check=False)


if __name__ == "__main__":
    main()
