"""examples/: the CI workflow and the target file a proxy's maintainers copy must work as written."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from conformance.cli import _parser
from conformance.schemas import problems

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_example_target_file_is_valid() -> None:
    assert problems("target-file", _toml(EXAMPLES / "proxy.toml")) == []


def test_the_workflow_runs_the_suite_and_publishes_the_site_even_when_red() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions-conformance.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["conformance"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    suite = next(run for run in runs if run.startswith("pytest"))
    assert "--target=conformance/proxy.toml" in suite and "--junitxml=" in suite
    site = next(step for step in steps if step.get("run", "").startswith("conformance site"))
    assert site.get("if") == "always()"
    # The site command as written parses with the suite's own command line.
    args = _parser().parse_args(shlex.split(site["run"].replace('"$GITHUB_STEP_SUMMARY"', "summary.md"))[1:])
    assert args.command == "site"
    uploads = [step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and all(step.get("if") == "always()" for step in uploads)
    assert any(step["with"]["path"] == "site/" for step in uploads)
