"""The attribution pass: what grading a failure as inherited costs.

On a same-protocol route, every failing verdict asks whether the upstream's own stream fails that
invariant too (`conformance.attribution`): the capture's bytes are assembled once per capture and
route, and each failing invariant is evaluated on them once. An item with no failure asks nothing.

The worst case is a transparent pipe, whose output is the upstream's bytes: every quirk of the
capture fails on the output and is looked up upstream. This times, per item, the checks alone (what
a run costs without attribution) against the checks plus grading, over every same-protocol item of
the corpus with the output equal to the capture, the way `--target=passthrough` sees it, and with
the attribution cache cold (the first schedule of an item) and warm (the second).

    python bench/attribution.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

from _common import CORPUS, machine, table

from conformance.attribution import grade, upstream_violations
from conformance.checks import build_context, check
from conformance.client_request import client_request
from conformance.corpus import load_corpus


def cases() -> list[tuple[object, dict]]:
    chosen = []
    for capture in load_corpus(CORPUS).captures:
        request = client_request(capture.request, capture.protocol, capture.protocol)
        chosen.append((capture, request))
    return chosen


def context(capture: object, request: dict, ending: str = "complete") -> object:
    return build_context(
        capture.body,  # type: ignore[attr-defined]
        capture.protocol,  # type: ignore[attr-defined]
        status=capture.status,  # type: ignore[attr-defined]
        request=request,
        expect=capture.expect,  # type: ignore[attr-defined]
        negative=capture.negative,  # type: ignore[attr-defined]
        ending=ending,
    )


def _upstream(capture: object, request: dict) -> object:
    return upstream_violations(lambda: context(capture, request, capture.ending))


def one_pass(chosen: list[tuple[object, dict]], mode: str) -> tuple[float, int, int]:
    """CPU seconds for every item, and its failing and inherited verdicts. `mode`: `alone` (checks,
    no grading), `cold` (a fresh upstream per item), `warm` (the upstream's answers known already,
    as on an item's second schedule)."""
    primed = {}
    if mode == "warm":
        for capture, request in chosen:
            primed[id(capture)] = upstream = _upstream(capture, request)
            grade(check(context(capture, request, capture.ending)), upstream=upstream)
    failing = inherited = 0
    started = time.process_time()
    for capture, request in chosen:
        verdicts = check(context(capture, request, capture.ending))
        if mode != "alone":
            upstream = primed[id(capture)] if mode == "warm" else _upstream(capture, request)
            verdicts = grade(verdicts, upstream=upstream, quirks=capture.features)  # type: ignore[attr-defined]
        failing += sum(1 for v in verdicts if v.failing)
        inherited += sum(1 for v in verdicts if v.outcome == "inherited")
    return time.process_time() - started, failing, inherited


def run(repeat: int) -> list[list[object]]:
    chosen = cases()
    one_pass(chosen, "alone")  # the oracles' first reads of each stream, kept for every pass after
    rows: list[list[object]] = []
    labels = {
        "alone": "checks alone",
        "cold": "checks + attribution, first schedule (upstream assembled and judged)",
        "warm": "checks + attribution, second schedule (upstream's answers known)",
    }
    base = None
    for mode, label in labels.items():
        best = min(one_pass(chosen, mode)[0] for _ in range(repeat))
        _, failing, inherited = one_pass(chosen, mode)
        base = base or best
        rows.append(
            [label, len(chosen), failing, inherited, f"{best / len(chosen) * 1000:.2f} ms", f"{best / base:.2f}x"]
        )
    print(
        f"Attribution pass over the {len(chosen)} captures on their same-protocol route, the output being the capture "
        f"itself (what --target=passthrough sees; {machine()}), CPU time, best of {repeat}"
    )
    print(table(["what", "items", "failing verdicts", "inherited", "per item", "vs checks alone"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run(args.repeat)


if __name__ == "__main__":
    main()
