"""The project's own tests. With --target, pytest replays the corpus instead, so they step aside."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("conformance_target", None) and collection_path.name != "conftest.py":
        return True
    return None
