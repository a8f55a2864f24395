"""Harness overhead against a real target: `pytest --target=litellm` against the time LiteLLM alone
needs for the same streams.

- The harness: the wall time of `pytest --target=litellm` on the capture items (`-k "not
  transport::"`), judged by the committed gate (reports/litellm-<version>/expectations.yaml, handed
  over with `--expectations` so the reports go to a temporary folder): collection, corpus lint,
  LiteLLM in its own process (`conformance.targets.hosted`), replay, parsing, checks, client oracles,
  pytest and the report.
- LiteLLM alone: the wall time of a plain process (`python bench/litellm_overhead.py --alone`) that
  imports LiteLLM, sets the target up, streams every one of those cases through it from the same
  replay upstream, reading each output to its end and checking nothing, and exits: what any process
  using LiteLLM on these streams pays, its import and its exit included. It exits as the harness's
  LiteLLM process does, with its heap frozen (`gc.freeze`), so neither side is credited with
  LiteLLM's exit-time collections (about 2.5 s).

Overhead = harness - LiteLLM alone, relative to LiteLLM alone. Each is the least of `--repeat`
runs, alternated, after one untimed run of each.

Both run as on a machine set up with `pip install llm-stream-conformance[litellm]`:
- Bytecode is written (PYTHONDONTWRITEBYTECODE is dropped from their environment if set), as a
  fresh machine does; the untimed first runs write it.
- pytest runs with `-p no:hypothesispytest`: hypothesis is a development dependency of this
  repository, not of the tool, and its pytest plugin imports all of hypothesis at the end of every
  run (0.3 s, 1 s without bytecode).

Needs LiteLLM with its proxy extra in the running interpreter's environment, e.g.
    /work/venvs/litellm-1.106.2/bin/python bench/litellm_overhead.py
Without it, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import ROOT, machine, table  # noqa: E402


def alone() -> None:
    """LiteLLM alone on the cases the harness runs: stream each one, check nothing."""
    from conformance.corpus import default_corpus, load_corpus
    from conformance.runner import Case, Runner, routes_for
    from conformance.schedules import DEFAULT_SCHEDULES
    from conformance.targets.litellm_sdk import LiteLLM

    target = LiteLLM()
    runner = Runner()
    streams = 0
    try:
        for capture in load_corpus(default_corpus()).captures:
            for route in routes_for(capture, target)[0]:
                for schedule in DEFAULT_SCHEDULES:
                    streamed = runner.wait(runner.begin(Case(capture, route, schedule), target))
                    if streamed.error is not None:
                        print(f"{capture.id} {route}: {streamed.error}", file=sys.stderr)
                    streams += 1
    finally:
        runner.close(target)
    print(streams)
    gc.freeze()  # as conformance.targets.hosted's child does before it exits


def _timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment)
    return time.perf_counter() - start, done


def run(repeat: int) -> list[list[object]] | None:
    import importlib.util
    from importlib.metadata import version

    if importlib.util.find_spec("litellm") is None:
        print(
            "litellm_overhead: skipped, LiteLLM is not installed in this environment. Run it with "
            "/work/venvs/litellm-1.106.2/bin/python bench/litellm_overhead.py, or pip install 'litellm[proxy]==1.106.2'."
        )
        return None
    litellm_version = version("litellm")
    gate = ROOT / "reports" / f"litellm-{litellm_version}" / "expectations.yaml"
    harness_runs, alone_runs = [], []
    streams, last = "?", ""
    with tempfile.TemporaryDirectory(prefix="bench-litellm-") as tmp:
        for attempt in range(-1, repeat):  # -1: untimed, writes the bytecode
            command = [
                sys.executable,
                "-m",
                "pytest",
                "--target=litellm",
                "-k",
                "not transport::",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:hypothesispytest",
                f"--report-dir={tmp}/reports-{attempt}",
            ]
            if gate.is_file():
                command.append(f"--expectations={gate}")
            wall, done = _timed(command)
            last = ([line for line in done.stdout.splitlines() if line.strip()][-1:] or [done.stderr[-300:]])[0]
            if done.returncode != 0:
                print(f"litellm_overhead: pytest exited {done.returncode}: {last}")
            if attempt >= 0:
                harness_runs.append(wall)
            wall, done = _timed([sys.executable, str(BENCH / "litellm_overhead.py"), "--alone"])
            if done.returncode != 0:
                print(f"litellm_overhead: the LiteLLM-alone run exited {done.returncode}: {done.stderr[-500:]}")
            streams = (done.stdout.split() or ["?"])[-1]
            if attempt >= 0:
                alone_runs.append(wall)
    harness, litellm = min(harness_runs), min(alone_runs)
    rows = [
        [
            "pytest --target=litellm (whole run)",
            f"{harness:.1f} s",
            f"{last}; runs: {', '.join(f'{t:.1f}' for t in harness_runs)}",
        ],
        [
            "LiteLLM alone (import, the same streams, exit)",
            f"{litellm:.1f} s",
            f"{streams} streams; runs: {', '.join(f'{t:.1f}' for t in alone_runs)}",
        ],
        [
            "harness overhead (whole run - LiteLLM alone)",
            f"{harness - litellm:.1f} s",
            f"{(harness - litellm) / litellm:.0%} of LiteLLM alone",
        ],
    ]
    print(
        f"Harness overhead, LiteLLM {litellm_version} SDK target ({machine()}), least of {repeat} alternated runs each"
    )
    print(table(["what", "time", "note"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--alone",
        action="store_true",
        help="be the LiteLLM-alone process: stream every case through LiteLLM, check nothing",
    )
    arguments = parser.parse_args()
    if arguments.alone:
        alone()
    else:
        run(arguments.repeat)


if __name__ == "__main__":
    main()
