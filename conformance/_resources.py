"""Where the corpus and schemas live, in a checkout and in an installed wheel.

The wheel carries `corpus/` and `schemas/` inside the package as `conformance/_data/` (see
pyproject.toml), so a proxy's CI can `pip install` the suite and run it from any folder. An
editable install or a checkout has no `_data/` and reads the top-level folders instead.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path"]

_PACKAGE = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """The folder `name` (`corpus` or `schemas`) shipped with this installation."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"conformance cannot find its {name!r} folder; looked in {_PACKAGE / '_data' / name} and "
        f"{_PACKAGE.parent / name}. Reinstall the package: pip install --force-reinstall llm-stream-conformance"
    )
