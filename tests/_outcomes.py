"""What a pytester run of the plugin reported: pytest's outcomes and the conformance classes."""

from __future__ import annotations

import re

import pytest

_COUNT = re.compile(r"(\d+) ([\w-]+)")


def assert_classes(result: pytest.RunResult, **expected: int) -> None:
    """Like `RunResult.assert_outcomes`, counting the items that passed the gate with a non-strict or
    inherited verdict under those names (`non_strict=`, `inherited=`), as the terminal's last line
    shows them (pytester's own parser stops at the hyphen of "non-strict"). As there, deselected items
    are counted only when `deselected=` is given."""
    last = next(line for line in reversed(result.outlines) if re.search(r" in [\d.]+s", line))
    got = {name.replace("-", "_"): int(count) for count, name in _COUNT.findall(last.split(" in ")[0])}
    got = {
        ("errors" if name == "error" else name): count
        for name, count in got.items()
        if not name.startswith("warning") and (name != "deselected" or "deselected" in expected)
    }
    assert got == {name: count for name, count in expected.items() if count}, result.stdout.str()[-3000:]
