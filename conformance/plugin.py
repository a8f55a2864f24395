"""The pytest plugin: `pytest --target=<impl>` replays the corpus through a target.

Hook phases, in the order pytest calls them:
- `pytest_addoption`: the `conformance` option group.
- `pytest_configure`: with `--target`, loads the target first (and connects once to a running
  proxy): one that cannot run here stops the run with a usage error. Then it registers a
  `ConformanceSession` (`conformance.session`, stashed under `SESSION_KEY`); without `--target` the
  plugin does nothing, and imports nothing more than this module.
- `pytest_collection_modifyitems`: adds one item per capture × route × schedule, before
  `-k`/`-m` deselection runs, plus an errored item per capture that does not load or lint (a row
  of the report too, marked `refused`), and deselects every other item (the repository's own
  tests) unless `--conformance-with-tests` keeps them.
- `pytest_collection_finish`: freezes what the collection built (`gc.freeze`, as it does after
  loading the target), so that garbage collections while items run skip it; a clean-up added at
  configure time unfreezes it.
- item `setup`: runs the case (target errors and time-outs surface as pytest errors);
  `runtest`: fails on every failing invariant and on a changed snapshot.
- `pytest_runtest_logreport` / `pytest_sessionfinish`: gather each item's record (from xdist
  workers too) and write the JSON report and Markdown summary.
"""

from __future__ import annotations

import atexit
import gc
import time
from typing import TYPE_CHECKING

import pytest

from conformance import schedules
from conformance._keys import SESSION_KEY

if TYPE_CHECKING:
    from conformance.targets import Target, TargetUnavailable

__all__ = ["SESSION_KEY", "load_target", "unavailable"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "LLM streaming conformance")
    group.addoption(
        "--target",
        dest="conformance_target",
        default=None,
        metavar="SPEC",
        help="replay the corpus through this target: reference, mutant:<name>, an entry-point name, or module:attr (list them with `conformance targets`)",
    )
    group.addoption(
        "--corpus",
        dest="conformance_corpus",
        default=None,
        metavar="DIR",
        help="folder of captures to replay (default: the corpus shipped with the suite)",
    )
    group.addoption(
        "--schedule",
        dest="conformance_schedules",
        action="append",
        default=None,
        metavar="NAME",
        help=f"chunk schedule for the replay upstream, repeatable (default: {', '.join(schedules.DEFAULT_SCHEDULES)}; known: {', '.join(schedules.SCHEDULES)}, random-<seed>)",
    )
    group.addoption(
        "--report-dir",
        dest="conformance_report_dir",
        default=None,
        metavar="DIR",
        help="where reports and snapshots go: DIR/<target>/ (default: reports/ under the rootdir)",
    )
    group.addoption(
        "--replay-port",
        dest="conformance_replay_port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the replay upstream on this fixed 127.0.0.1 port, for a proxy configured by hand (`--target=http://...`); default 0: any free port",
    )
    group.addoption(
        "--expectations",
        dest="conformance_expectations",
        default=None,
        metavar="FILE",
        help="known failures of the target (default: expectations.yaml in the target's report folder); the run fails on any other failure and on any listed one that passes",
    )
    # pytest's own `--strict` (the `strict` ini option) turns the conformance gate strict as well.
    group.addoption(
        "--conformance-strict",
        dest="conformance_strict",
        action="store_true",
        default=False,
        help="the strict gate, as with pytest's --strict: fail on every deviation the target introduced or passed "
        "on (non-strict and inherited verdicts), not only on what breaks a client (fail) and on errors",
    )
    group.addoption(
        "--update-expectations",
        dest="conformance_update_expectations",
        action="store_true",
        default=False,
        help="rewrite the expectations file from this run's failures, keeping the reasons already written",
    )
    group.addoption(
        "--no-transport",
        dest="conformance_transport",
        action="store_false",
        default=True,
        help="skip the transport checks, which otherwise run on every route: incremental streaming, cancel propagation, 32 concurrent streams, and upstream faults (HTTP 429/500, a connection reset, a stall, bad JSON, bad UTF-8, no terminator)",
    )
    group.addoption(
        "--conformance-with-tests",
        dest="conformance_with_tests",
        action="store_true",
        default=False,
        help="with --target, also run the tests pytest collects in this repository; without it they are deselected and only the conformance items run",
    )
    group.addoption(
        "--conformance-timeout",
        dest="conformance_timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time bound for one case; a target that takes longer is reported as errored (default: 30)",
    )


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("conformance_target")
    if not spec:
        return
    config.addinivalue_line("markers", "conformance: an item replayed through --target")
    try:
        chosen = [
            schedules.check_schedule(name)
            for name in config.getoption("conformance_schedules") or schedules.DEFAULT_SCHEDULES
        ]
    except ValueError as error:
        raise pytest.UsageError(f"--schedule: {error}") from error
    # The target loads before the rest of the harness is imported: a target in a process of its own
    # (LiteLLM's import takes seconds) starts that much sooner, and the harness's imports and
    # collection run beside it. An xdist controller runs no items, so it loads none.
    started = time.perf_counter()
    controller = _xdist_controller(config)
    probe = not config.getoption("collectonly")  # listing the items needs no proxy running
    loaded = (
        None if controller else load_target(spec, probe=probe, replay_port=config.getoption("conformance_replay_port"))
    )
    if controller and probe and spec.startswith(("http://", "https://")):
        # A URL parsed and one TCP connect: cheap enough for the controller to stop the run once
        # when nothing listens there, rather than each worker failing on its own.
        load_target(spec)
    from conformance.session import ConformanceSession

    session = ConformanceSession(config, spec, chosen, loaded, started, load_target)
    config.stash[SESSION_KEY] = session
    # Undoes the session's `gc.freeze`s. Added here, before pytest's own plugins add theirs, it runs
    # after them (clean-ups run last in, first out), so their garbage collections still skip the
    # frozen heap.
    config.add_cleanup(gc.unfreeze)
    # At exit the interpreter's last collections walk whatever is alive (the SDKs, pytest, the
    # run's results): about 1.5 s a run, for memory the OS takes back anyway. Frozen, they skip it.
    # Registered per run, it is idempotent; a run inside a test process only freezes at that
    # process's own exit.
    atexit.register(gc.freeze)
    config.pluginmanager.register(session, "conformance-session")


def load_target(spec: str, *, probe: bool = True, replay_port: int = 0) -> Target:
    """The target `spec` names, ready to run. A spec naming nothing loadable, a target that cannot
    run here (its package is not installed) and, with `probe`, a running proxy that nothing answers
    at are usage errors: the run stops at its start with one message, before anything is collected
    or written, instead of erroring every item. `replay_port` (--replay-port) is where a proxy a
    target file starts is pointed at."""
    from conformance.targets import TargetError, TargetUnavailable, load

    try:
        target = load(spec)
        if probe and (spec.startswith(("http://", "https://")) or spec.endswith(".toml")):
            # A running proxy is reached once, and one the target file starts is started, here.
            from conformance.targets.http import HttpTarget

            if isinstance(target, HttpTarget):
                if replay_port and hasattr(target, "replay_port"):
                    target.replay_port = replay_port
                target.probe()
    except TargetUnavailable as error:
        raise pytest.UsageError(unavailable(spec, error)) from error
    except TargetError as error:
        raise pytest.UsageError(f"--target={spec}: {error} [{error.code}]") from error
    return target


def unavailable(spec: str, error: TargetUnavailable) -> str:
    """The one message of a run stopped at its start because its target cannot run here: which
    target, what was tried and why it failed, what to do, and that nothing was run or written."""
    return (
        f"--target={spec} cannot run here [{error.code}]: {str(error).rstrip('.')}.\n"
        "The run stopped before collecting anything: no item ran, and no report was written."
    )


def _xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the items to xdist workers (as xdist decides it, in its own
    `pytest_cmdline_main`) rather than running them."""
    return (
        not hasattr(config, "workerinput")
        and config.getoption("dist", "no") != "no"
        and not config.getoption("collectonly")
    )
