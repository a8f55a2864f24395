"""The project's own tests. With --target, pytest replays the corpus instead, so they step aside:
not even collected (the plugin would deselect them, but only after importing every module), unless
--conformance-with-tests asks for them too."""

from __future__ import annotations

from pathlib import Path

# httpx imports httpcore only when its first client connects, and an in-process pytester run drops
# every module first imported during it. Imported here, httpcore stays the one httpx maps its
# exceptions from; otherwise a later test's httpcore.ReadError (a connection reset) escapes httpx.
import httpcore  # noqa: F401
import pytest

pytest_plugins = ["pytester"]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if (
        config.getoption("conformance_target", None)
        and not config.getoption("conformance_with_tests", False)
        and collection_path.name != "conftest.py"
    ):
        return True
    return None
