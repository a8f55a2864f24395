"""Known failures of a target, and the strict gate built on them.

A target's `expectations.yaml` (schema: `schemas/expectations.schema.json`) lists, per capture and
route, the invariants that are known to fail, each with a one-line reason and the upstream issue.
A case then passes the gate when exactly its listed invariants fail: a new failure fails the run,
and so does a listed failure that now passes (strict, as Rhino runs test262), so the file never
drifts from the truth. `--update-expectations` rewrites it from a run, keeping reasons and issues.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance import schemas

__all__ = [
    "ERRORED",
    "ExpectationsError",
    "KnownCrash",
    "KnownFailure",
    "Expectations",
    "Verdict",
    "judge",
    "load",
    "updated",
    "write",
]

ERRORED = "errored"
"""The pseudo-invariant an entry lists when the target errors on that case."""


class ExpectationsError(Exception):
    code = "bad-expectations"


@dataclass(frozen=True, slots=True)
class KnownFailure:
    capture: str
    route: str
    invariants: frozenset[str]
    reason: str
    issue: str = ""
    schedules: frozenset[str] | None = None
    versions: frozenset[str] | None = None
    flaky: bool = False
    """The listed invariants may or may not fail: the target's behaviour depends on timing."""

    def covers(self, capture: str, route: str, schedule: str, version: str) -> bool:
        return (
            self.capture == capture
            and self.route == route
            and (self.schedules is None or schedule in self.schedules)
            and (self.versions is None or version in self.versions)
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"capture": self.capture, "route": self.route, "invariants": sorted(self.invariants)}
        if self.schedules is not None:
            data["schedules"] = sorted(self.schedules)
        if self.versions is not None:
            data["versions"] = sorted(self.versions)
        if self.flaky:
            data["flaky"] = True
        data["reason"] = self.reason
        if self.issue:
            data["issue"] = self.issue
        return data


@dataclass(frozen=True, slots=True)
class KnownCrash:
    """A death of the target's process that comes and goes: the items it errors are known failures."""

    exit_code: int
    reason: str
    issue: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"exit_code": self.exit_code, "reason": self.reason}
        if self.issue:
            data["issue"] = self.issue
        return data


@dataclass(frozen=True, slots=True)
class Expectations:
    path: Path
    target: str
    entries: tuple[KnownFailure, ...]
    crashes: tuple[KnownCrash, ...] = ()

    def for_case(self, capture: str, route: str, schedule: str, version: str) -> list[KnownFailure]:
        return [entry for entry in self.entries if entry.covers(capture, route, schedule, version)]

    def crash_behind(self, error: str) -> KnownCrash | None:
        """The known crash an errored item's message reports (`targets.died`), if any."""
        from conformance.targets import died

        return next(
            (crash for crash in self.crashes if re.search(re.escape(died(crash.exit_code)) + r"(?!\d)", error)), None
        )


def load(path: Path, target: str) -> Expectations:
    """The expectations at `path`; an absent file means no known failures."""
    if not path.is_file():
        return Expectations(path, target, ())
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ExpectationsError(f"{path}: is not valid YAML: {error}") from error
    problems = schemas.problems("expectations", data)
    if problems:
        raise ExpectationsError(f"{path}: {problems[0].path or '(top level)'}: {problems[0].message}")
    if data["target"] != target:
        raise ExpectationsError(
            f"{path}: lists expectations for target {data['target']!r}, not {target!r}; pass --expectations for the right file"
        )
    entries = tuple(
        KnownFailure(
            capture=row["capture"],
            route=row["route"],
            invariants=frozenset(row["invariants"]),
            reason=row["reason"],
            issue=row.get("issue", ""),
            schedules=frozenset(row["schedules"]) if "schedules" in row else None,
            versions=frozenset(map(str, row["versions"])) if "versions" in row else None,
            flaky=bool(row.get("flaky", False)),
        )
        for row in data["known_failures"]
    )
    crashes = tuple(
        KnownCrash(row["exit_code"], row["reason"], row.get("issue", "")) for row in data.get("known_crashes", ())
    )
    return Expectations(path, target, entries, crashes)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a case's actual failures compare with its known ones."""

    new: frozenset[str]
    """Failing, but not listed: a regression."""
    fixed: frozenset[str]
    """Listed, but passing now: the file must be updated."""
    known: tuple[KnownFailure, ...]

    @property
    def as_expected(self) -> bool:
        return not self.new and not self.fixed

    def explain(self, path: Path) -> str:
        lines = []
        if self.new:
            lines.append(f"new failure(s) not listed in {path}: {', '.join(sorted(self.new))}")
        if self.fixed:
            reasons = "; ".join(
                f"{entry.reason} ({entry.issue})" if entry.issue else entry.reason for entry in self.known
            )
            lines.append(
                f"listed as known failure(s) but passing now: {', '.join(sorted(self.fixed))} [{reasons}]; remove them from {path}, or rerun with --update-expectations"
            )
        return "\n".join(lines)


def judge(gated: set[str], failing: set[str], known: list[KnownFailure]) -> Verdict:
    """`gated`: the invariants whose verdicts fail the run's gate (`fail`, and with `--strict` every
    deviation; `errored` for an errored item); `failing`: every invariant the output breaks, gated or
    not. A listed invariant counts as fixed only when it no longer fails in any class, so one file
    serves the default and the strict gate."""
    listed: frozenset[str] = frozenset().union(*(entry.invariants for entry in known))
    optional: frozenset[str] = frozenset().union(*(entry.invariants for entry in known if entry.flaky))
    return Verdict(frozenset(gated) - listed, listed - optional - frozenset(failing), tuple(known))


def updated(
    previous: Expectations,
    rows: list[dict[str, Any]],
    version: str,
    all_schedules: list[str],
    gate: frozenset[str] = frozenset({"fail"}),
) -> dict[str, Any]:
    """The expectations a run implies: its failures in the classes the gate fails on (`gate`),
    keeping the reasons and issues already written.

    A failure seen under every schedule of the run gets no `schedules` list. Entries for other
    versions, and for captures or routes this run did not cover, are kept as they were. An invariant
    a kept entry lists stays listed while it still fails in any class, so a file written under
    `--strict` survives an update under the default gate.
    """
    failing: dict[tuple[str, str, frozenset[str]], set[str]] = defaultdict(set)
    messages: dict[tuple[str, str, frozenset[str]], str] = {}
    covered: set[tuple[str, str]] = set()
    listed: dict[tuple[str, str], frozenset[str]] = defaultdict(frozenset)
    # A flaky entry is kept as written (one run cannot show all the outcomes it allows), and what it
    # lists is left out of the entries written beside it.
    optional: dict[tuple[str, str], frozenset[str]] = defaultdict(frozenset)
    for entry in previous.entries:
        listed[(entry.capture, entry.route)] |= entry.invariants
        if entry.flaky and (entry.versions is None or version in entry.versions):
            optional[(entry.capture, entry.route)] |= entry.invariants
    for row in rows:
        covered.add((row["capture"], row["route"]))
        invariants = {
            name
            for name, verdict in row.get("verdicts", {}).items()
            if isinstance(verdict, dict)
            and (verdict["outcome"] in gate or name in listed[(row["capture"], row["route"])])
        }
        if row["outcome"] == ERRORED:
            invariants = {ERRORED}
        invariants -= optional[(row["capture"], row["route"])]
        if not invariants:
            continue
        key = (row["capture"], row["route"], frozenset(invariants))
        failing[key].add(row["schedule"])
        messages.setdefault(
            key,
            row.get("error")
            or next(
                (v["reason"] for v in row["verdicts"].values() if isinstance(v, dict) and v["outcome"] in gate), ""
            ),
        )
    kept = [
        entry
        for entry in previous.entries
        if entry.flaky
        or (entry.capture, entry.route) not in covered
        or (entry.versions is not None and version not in entry.versions)
    ]
    entries = [entry.to_json() for entry in kept]
    for (capture, route, invariants), schedules in sorted(
        failing.items(), key=lambda item: (item[0][0], item[0][1], sorted(item[0][2]))
    ):
        old = next(
            (
                e
                for e in previous.entries
                if e.capture == capture and e.route == route and not e.flaky and e.invariants & invariants
            ),
            None,
        )
        entry = KnownFailure(
            capture,
            route,
            invariants,
            reason=old.reason
            if old
            else f"unexplained: {messages[(capture, route, invariants)]}".replace("\n", " ")[:200],
            issue=old.issue if old else "",
            # A transport item runs under its own single schedule: no list narrows it.
            schedules=None if set(all_schedules) <= schedules or schedules == {"transport"} else frozenset(schedules),
            versions=old.versions if old else None,
        )
        entries.append(entry.to_json())
    entries.sort(key=lambda e: (e["capture"], e["route"]))
    data: dict[str, Any] = {"target": previous.target, "known_failures": entries}
    if previous.crashes:  # kept as written, like flaky entries
        data["known_crashes"] = [crash.to_json() for crash in previous.crashes]
    return data


def unexplained(expectations: Expectations) -> int:
    """How many entries still carry the `unexplained:` reason `--update-expectations` wrote."""
    return sum(1 for entry in expectations.entries if entry.reason.startswith("unexplained:"))


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Known failures of this target: the conformance gate passes when exactly these fail.\n"
        "# Each entry needs a one-line reason and, where one exists, the upstream issue.\n"
        "# Regenerate with: pytest --target=<target> --update-expectations (reasons are kept).\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
