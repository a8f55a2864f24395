"""Harness overhead against a real target: `pytest --target=litellm` against LiteLLM's own time on
the same streams.

The run uses `bench/litellm_overhead.py:Timed`: the `litellm` target as `pytest --target=litellm`
runs it, in a process of its own (`conformance.targets.hosted`), its `LiteLLM` wrapped there to add
up the time spent inside its `stream()` generator: LiteLLM turning the replayed upstream bytes into
its output, reading from the loopback upstream included.
LiteLLM alone = that time + the wall time of a process that only imports LiteLLM, sets the target
up and exits (interpreter start, import and exit: LiteLLM's heap makes the exit cost seconds, which
any process using it pays). Overhead = the rest of the wall time (collection, corpus lint, replay,
parsing, checks, client oracles, pytest, report), relative to LiteLLM alone. The committed gate
(reports/litellm-<version>/expectations.yaml) is handed over with `--expectations`, renamed for the
wrapper target, so the run is judged exactly as `pytest --target=litellm` judges it: the known
failures are xfailed, not failed. Only the capture items are timed (`-k "not transport::"`).

Needs LiteLLM with its proxy extra in the running interpreter's environment, e.g.
    /work/venvs/litellm-1.106.2/bin/python bench/litellm_overhead.py
Without it, it says so and exits 0. The child processes inherit the environment: with
PYTHONDONTWRITEBYTECODE set, the suite's own modules and pytest's assertion rewriting are compiled
again on every run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import ROOT, machine, table  # noqa: E402

_TOTAL_FILE = "CONFORMANCE_BENCH_LITELLM_TIME"


def Timed() -> Any:  # noqa: N802  (named as the target it stands for)
    """The `litellm` target, hosted as `--target=litellm` hosts it, with `TimedLiteLLM` in its process."""
    from conformance.targets.litellm_sdk import hosted

    return hosted("litellm_overhead:TimedLiteLLM")


class TimedLiteLLM:
    """LiteLLM's SDK target, timing its stream generator; the total goes to $CONFORMANCE_BENCH_LITELLM_TIME."""

    def __init__(self) -> None:
        from conformance.targets.litellm_sdk import LiteLLM

        self._inner = LiteLLM()
        self.name = self._inner.name
        self.version = self._inner.version
        self.routes = self._inner.routes
        self.notes = getattr(self._inner, "notes", ())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def stream(self, exchange: Any) -> AsyncIterator[Any]:
        inner = self._inner.stream(exchange).__aiter__()
        spent = 0.0
        try:
            while True:
                start = time.perf_counter()
                try:
                    item = await inner.__anext__()
                except StopAsyncIteration:
                    spent += time.perf_counter() - start
                    break
                spent += time.perf_counter() - start
                yield item
        finally:
            path = os.environ.get(_TOTAL_FILE)
            if path:
                with open(path, "a", encoding="utf-8") as out:
                    out.write(f"{spent}\n")


def _litellm_process_seconds(repeat: int) -> tuple[float, float]:
    """(least wall time of a process that imports LiteLLM, sets the target up and exits; the import
    and set-up alone, inside that process)."""
    code = "import time, conformance.targets.litellm_sdk as s; t = time.perf_counter(); s.LiteLLM(); print(time.perf_counter() - t)"
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        if best is None or wall < best[0]:
            best = (wall, float(done.stdout.strip().splitlines()[-1]))
    assert best is not None
    return best


def _gate(version: str, spec: str, folder: Path) -> list[str]:
    """`--expectations` for the committed gate of this LiteLLM version, its target renamed to `spec`
    (the file must name the target it judges); no option when there is no gate."""
    import yaml

    committed = ROOT / "reports" / f"litellm-{version}" / "expectations.yaml"
    if not committed.is_file():
        return []
    data = yaml.safe_load(committed.read_text(encoding="utf-8"))
    data["target"] = spec
    renamed = folder / "expectations.yaml"
    renamed.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return [f"--expectations={renamed}"]


def run(repeat: int) -> list[list[object]] | None:
    import importlib.util
    from importlib.metadata import version

    if importlib.util.find_spec("litellm") is not None:
        litellm_version = version("litellm")
    else:
        print("litellm_overhead: skipped, LiteLLM is not installed in this environment. Run it with "
              "/work/venvs/litellm-1.106.2/bin/python bench/litellm_overhead.py, or pip install 'litellm[proxy]==1.106.2'.")
        return None
    spec = "litellm_overhead:Timed"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-litellm-") as tmp:
        gate = _gate(litellm_version, spec, Path(tmp))
        best = None
        for attempt in range(repeat):
            reports = Path(tmp) / f"reports-{attempt}"
            total_file = Path(tmp) / f"litellm-{attempt}.txt"
            env = {**os.environ, _TOTAL_FILE: str(total_file), "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH", "")]))}
            # Transport checks are not capture items; deselecting them keeps the measurement the
            # same should they run by default.
            command = [sys.executable, "-m", "pytest", f"--target={spec}", *gate, "-k", "not transport::", "-q", "-p", "no:cacheprovider", f"--report-dir={reports}"]
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            last = [line for line in done.stdout.splitlines() if line.strip()][-1:] or [done.stderr[-300:]]
            if done.returncode != 0:
                print(f"litellm_overhead: pytest exited {done.returncode}: {last[0]}")
            inside = sum(float(line) for line in total_file.read_text().split()) if total_file.exists() else 0.0
            if best is None or wall < best[0]:
                best = (wall, inside, last[0], done.returncode)
        wall, inside, last, code = best
    process, imported = _litellm_process_seconds(repeat)
    alone = inside + process
    rows.append(["pytest --target=litellm (whole run)", f"{wall:.1f} s", last])
    rows.append(["LiteLLM inside stream(), summed over items", f"{inside:.1f} s", ""])
    rows.append(["LiteLLM process: start, import, set-up, exit", f"{process:.1f} s", f"import and set-up alone: {imported:.1f} s"])
    rows.append(["LiteLLM alone (sum of the two)", f"{alone:.1f} s", ""])
    rows.append(["harness overhead (whole run - LiteLLM alone)", f"{wall - alone:.1f} s", f"{(wall - alone) / alone:.0%} of LiteLLM alone"])
    print(f"Harness overhead, LiteLLM {litellm_version} SDK target ({machine()}), best of {repeat}, pytest exit {code}")
    print(table(["what", "time", "note"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    run(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
