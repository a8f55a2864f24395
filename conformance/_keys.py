"""The run's state under a typed stash key, shared by the plugin and the items without an import loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    pass

__all__ = ["SESSION_KEY"]

SESSION_KEY = pytest.StashKey["ConformanceSession"]()
