"""nox sessions: the project's own tests, and the corpus replayed through a target."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DEFAULT_TARGETS = ["reference"]
# The LiteLLM versions the `litellm` target is run at (conformance/targets/litellm_sdk.py):
# v1.90.0, which the LiteLLM bugs this suite exists for were filed against, and the newest version
# that installs from the package index as it is (reports/LITELLM-VERSIONS.md).
LITELLM_VERSIONS = ["1.90.0", "1.106.2"]
LITELLM_TARGETS = [f"{target}-{version}" for target in ("litellm", "litellm-proxy") for version in LITELLM_VERSIONS]

# The npm proxies, each pinned by a package.json and lock file under proxies/ and run from a target
# file there: session id -> (the folder npm installs from, the target file). Their reports are
# reports/<name>-<version>[-<configuration>]/.
PROXIES = {
    "ccr-2.0.0-transformers": ("claude-code-router/2.0.0", "claude-code-router/2.0.0-transformers.toml"),
    "ccr-2.0.0-plain": ("claude-code-router/2.0.0", "claude-code-router/2.0.0-plain.toml"),
    "ccr-1.0.73-transformers": ("claude-code-router/1.0.73", "claude-code-router/1.0.73-transformers.toml"),
    "ccr-1.0.73-plain": ("claude-code-router/1.0.73", "claude-code-router/1.0.73-plain.toml"),
    "portkey-1.15.2": ("portkey/1.15.2", "portkey/portkey.toml"),
}

# A bare `nox` downloads no gateway: the gate sessions run when named, or all at once with `nox -t gates`.
nox.options.sessions = ["tests", "conformance(reference)"]


def _tags(gate: str) -> list[str]:
    """`nox -t gates` runs every gate, `nox -t ccr` one implementation's, `nox -t ccr-2.0.0` one version's."""
    name, version = gate.split("-")[0], next(part for part in gate.split("-") if part[:1].isdigit())
    implementation = gate[: gate.index(version)].rstrip("-")
    return list(dict.fromkeys(["gates", name, implementation, f"{implementation}-{version}"]))


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests: pytest over tests/."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize(
    "target",
    [nox.param(t, id=t) for t in DEFAULT_TARGETS] + [nox.param(t, id=t, tags=_tags(t)) for t in LITELLM_TARGETS],
)
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
@nox.parametrize("gate", [nox.param(gate, id=gate, tags=_tags(gate)) for gate in PROXIES])
def proxy(session: nox.Session, gate: str) -> None:
    """An npm proxy's gate: `nox -s "proxy(portkey-1.15.2)"`, all of them with `nox -s proxy`.

    Installs the proxy with `npm ci` from its pinned package.json and lock file into the session's
    own folder (Node and npm from the machine), then runs the suite on its target file, which
    starts the proxy on 127.0.0.1 pointed at the replay server and stops it by its PID at the end,
    whether the run passes or not. The gate is the committed reports/<name>-<version>[-<config>]/:
    the run fails on a failure not listed in its expectations.yaml and on a listed one that passes.
    Arguments after `--` go to pytest (`-- --update-expectations`)."""
    package, target = PROXIES[gate]
    session.install("-e", ".[dev]")
    prefix = Path(session.virtualenv.location) / "node"
    prefix.mkdir(exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "proxies" / package / name, prefix / name)
    session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), external=True)
    home = prefix / "home"  # the proxy's own HOME: its configuration, PID file and logs
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    env = {"CONFORMANCE_PROXY_PREFIX": str(prefix), "CONFORMANCE_PROXY_HOME": str(home)}
    session.run("pytest", f"--target=proxies/{target}", *session.posargs, env=env)


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


@nox.session
def screenshot(session: nox.Session) -> None:
    """docs/matrix.png, the README's picture of the report site: the site built from reports/ and its
    matrix page saved by the system's headless Chromium (apt-get install chromium chromium-driver).
    `nox -s screenshot -- --output other.png` saves it elsewhere."""
    session.install("-e", ".[dev]")
    session.run("python", "docs/screenshot.py", *session.posargs)
