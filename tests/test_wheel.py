"""A regular (non-editable) install carries the corpus and the schemas and runs from any folder.

A proxy's maintainers `pip install` this package into their own CI, where no checkout of ours
exists. This builds the wheel, installs it into a fresh virtual environment and runs the
reference target from an empty folder, as they would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return env_dir / "bin"


def test_wheel_carries_corpus_and_schemas(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {
        p.relative_to(ROOT).as_posix()
        for folder in ("corpus", "schemas")
        for p in (ROOT / folder).rglob("*")
        if p.is_file()
    }
    assert {f"conformance/_data/{name}" for name in shipped} <= set(names)
    assert any(name.endswith("entry_points.txt") for name in names)
    # The report site's stylesheet: `conformance site` from an installed suite.
    assets = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "conformance" / "site" / "assets").rglob("*") if p.is_file()
    }
    assert assets and assets <= set(names)


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV"))}


def test_reference_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "proxy-repo"
    empty.mkdir()
    result = subprocess.run(
        [str(installed / "python"), "-m", "pytest", "--target=reference", "-p", "no:cacheprovider", "-q"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
    assert (empty / "reports" / "reference" / "report.json").is_file()
    assert str(ROOT) not in (empty / "reports" / "reference" / "report.json").read_text()


def test_cli_validates_the_installed_corpus(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(installed / "conformance"), "validate"], cwd=tmp_path, capture_output=True, text=True, env=_clean_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "site-packages/conformance/_data/corpus" in result.stdout
