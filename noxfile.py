"""nox sessions: the project's own tests, and the corpus replayed through a target."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
DEFAULT_TARGETS = ["reference"]
# The LiteLLM versions the `litellm` target is run at (conformance/targets/litellm_sdk.py):
# v1.90.0, which the LiteLLM bugs this suite exists for were filed against, and the newest version
# that installs from the package index as it is (reports/LITELLM-VERSIONS.md).
LITELLM_VERSIONS = ["1.90.0", "1.106.2"]
LITELLM_TARGETS = [f"{target}-{version}" for target in ("litellm", "litellm-proxy") for version in LITELLM_VERSIONS]

# A bare `nox` does not download LiteLLM: its sessions run when named.
nox.options.sessions = ["tests", "conformance(reference)"]


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests: pytest over tests/."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("target", DEFAULT_TARGETS + LITELLM_TARGETS, ids=DEFAULT_TARGETS + LITELLM_TARGETS)
def conformance(session: nox.Session, target: str) -> None:
    """The corpus through a target: `nox -s "conformance(reference)"`, or any target after `--`:
    `nox -s "conformance(reference)" -- --target=mutant:finish-chunk-twice`.

    `nox -s "conformance(litellm-1.90.0)"` (or `litellm-proxy-1.90.0`) installs that LiteLLM
    version with its proxy extra into the session's own environment and runs the gate: the plugin
    finds `reports/litellm-1.90.0/` (committed, with expectations.yaml) by the target's name and
    version, and the run fails on any failure not listed there and on any listed one that passes."""
    name, _, version = target.rpartition("-")
    if name in ("litellm", "litellm-proxy"):
        session.install("-e", ".[dev]", f"litellm[proxy]=={version}")
        defaults = [f"--target={name}"]
    else:
        session.install(".")
        defaults = [f"--target={target}"]
    args = session.posargs if any(a.startswith("--target") for a in session.posargs) else [*defaults, *session.posargs]
    session.run("pytest", *args)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (bench/, figures in bench/RESULTS.md): SSE parsing against httpx-sse and
    openai's decoder, check throughput against jsonschema and compiled validators, whole-run wall
    time serial and with pytest-xdist, and the harness overhead against LiteLLM's SDK.
    `nox -s bench -- --quick` for a short run."""
    session.install(
        "-e", ".[dev]", "httpx-sse", "fastjsonschema", "pytest-xdist", f"litellm[proxy]=={LITELLM_VERSIONS[-1]}"
    )
    session.run("python", "bench/run_all.py", *session.posargs)
