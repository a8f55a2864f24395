"""Targets: the implementations under test, found by one name.

`--target` takes one of:
- `reference`: our faithful implementation of every route;
- `mutant:<name>`: the reference with one real-world bug seeded (see `conformance targets`);
- a name registered by another package under the entry-point group `conformance.targets`;
- `module:attr`: an object, class or zero-argument factory importable from `module`, looked for in
  the current folder first;
- `http://HOST:PORT[?routes=…&model=…]` (or https): a proxy already running (`targets/http.py`);
- `path/to/proxy.toml`: a proxy described by a target file, maybe started by the suite
  (`targets/http_file.py`);
- `litellm-proxy`: the LiteLLM proxy server, started as a subprocess (`targets/litellm_proxy.py`);
- `litellm`: LiteLLM's SDK in a process of its own (`targets/litellm_sdk.py`, `targets/hosted.py`;
  needs the `litellm` extra).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from conformance.targets.base import PROTOCOL_VERSION, Exchange, Route, Target, route_id

__all__ = [
    "PROTOCOL_VERSION",
    "Exchange",
    "Route",
    "Target",
    "TargetError",
    "TargetInfo",
    "TargetUnavailable",
    "MAX_RESTARTS",
    "available",
    "died",
    "failure",
    "load",
    "raised",
    "route_id",
    "timed_out",
]

ENTRY_POINT_GROUP = "conformance.targets"


class TargetError(Exception):
    """A `--target` that cannot be loaded. `code` is stable; the message ends with what to do."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class TargetUnavailable(TargetError):
    """A target that exists but cannot run here: its package is not installed, or nothing listens
    at a running proxy's URL. The message says what was tried and ends with how to fix it; a
    pytest run stops at its start with it (`conformance.plugin.load_target`)."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    spec: str
    kind: str
    description: str
    routes: tuple[Route, ...]


def _instantiate(obj: Any, spec: str) -> Target:
    target = obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "stream")) else obj
    missing = [name for name in ("name", "version", "routes", "stream") if not hasattr(target, name)]
    if missing:
        raise TargetError(
            "not-a-target",
            f"{spec!r} gives {target!r}, which lacks {', '.join(missing)}; see conformance/targets/base.py for the target protocol (version {PROTOCOL_VERSION})",
        )
    return target


def _mutants() -> dict[str, Any]:
    from conformance.targets.mutants import MUTANTS

    return MUTANTS


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _import_from_cwd(module_name: str) -> Any:
    """Import `module_name` with the current folder first on `sys.path`, as `python -m` would, so
    that `--target=mytarget:Target` finds `./mytarget.py` without `PYTHONPATH=.` (the `pytest`
    script, unlike `python -m pytest`, leaves the current folder off `sys.path`).

    The folder is on `sys.path` for this import only. The harness imports a good deal after the
    target loads (the official SDKs, jsonschema, yaml, httpx's transports), and a user's repository
    may well hold a module of one of those names; it must not shadow them for the rest of the run.
    The target's module, and whatever it imports when it is imported, stay in `sys.modules`, and
    a package's own submodules are found through its `__path__`: only a module the target imports
    later, by a top-level name from the current folder, would not be found (README: Write a target).
    A target in a process of its own (`targets/hosted.py`) is imported by `python -m`, which puts
    the current folder first in that process anyway."""
    folder = os.getcwd()
    sys.path.insert(0, folder)
    importlib.invalidate_caches()  # a module written since the folder was last listed
    try:
        return importlib.import_module(module_name)
    finally:
        with contextlib.suppress(ValueError):  # the import itself may have edited sys.path
            sys.path.remove(folder)


def load(spec: str) -> Target:
    if spec.startswith(("http://", "https://")):
        from conformance.targets.http import HttpTarget

        return HttpTarget(spec)
    from conformance.targets.http_file import is_target_file

    if is_target_file(spec):
        from conformance.targets.http_file import load_file

        return load_file(spec)
    if spec == "litellm-proxy":
        from conformance.targets.litellm_proxy import LiteLLMProxy

        return LiteLLMProxy()
    if spec == "reference":
        from conformance.targets.reference import Reference

        return Reference()
    if spec == "passthrough":
        from conformance.targets.passthrough import Passthrough

        return Passthrough()
    if spec == "litellm":
        from conformance.targets.litellm_sdk import hosted

        return hosted()
    if spec.startswith("mutant:"):
        name = spec.removeprefix("mutant:")
        mutants = _mutants()
        if name not in mutants:
            raise TargetError("unknown-mutant", f"no mutant named {name!r}; known: {', '.join(sorted(mutants))}")
        return _instantiate(mutants[name].factory, spec)
    registered = _entry_points()
    if spec in registered:
        return _instantiate(registered[spec].load(), spec)
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            obj: Any = _import_from_cwd(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as error:
            raise TargetError(
                "cannot-import",
                f"cannot load target {spec!r}: {error}. Is {module_name!r} importable from this environment, "
                f"or a module or package in the current folder ({os.getcwd()})?",
            ) from error
        return _instantiate(obj, spec)
    raise TargetError(
        "unknown-target",
        f"unknown target {spec!r}; run `conformance targets` to list the available ones, or pass module:attr",
    )


MAX_RESTARTS = 3
"""How many times a target's process that died mid-run is started again: one that keeps dying is a
failure of the run, not of each case."""


def timed_out(name: str, seconds: float) -> str:
    """How a target that did not finish in time is reported."""
    return f"target {name} did not finish within {seconds:g} s (raise it with --conformance-timeout)"


def died(exit_code: int | None) -> str:
    """How a target's process that died is reported, the same for every target that runs one, so
    that `known_crashes` in expectations can recognise it: "died mid-run with exit code -11"."""
    return f"died mid-run with exit code {exit_code}"


def raised(error: BaseException) -> str:
    """`raised TYPE: MESSAGE`, the end of "target NAME …" for an exception a target raised."""
    return "raised " + "".join(traceback.format_exception_only(type(error), error)).strip()


def failure(target: Target, error: BaseException) -> str:
    """How a target's exception reads in a report. A hosted target's (`targets/hosted.py`) was
    worded in its own process, where the exception was raised or the process ended."""
    from conformance.targets.hosted import HostedTargetError

    return f"target {target.name} {error.detail if isinstance(error, HostedTargetError) else raised(error)}"


def _litellm_info() -> TargetInfo:
    """The `litellm` target, described without importing LiteLLM (slow, and maybe absent)."""
    from importlib.metadata import PackageNotFoundError, version

    from conformance.targets.litellm_sdk import ROUTES, install_hint

    try:
        description = f"LiteLLM {version('litellm')}'s SDK in a process of its own, framed by its proxy's generators"
    except PackageNotFoundError:
        description = f"cannot load: LiteLLM is not installed; {install_hint()}"
    return TargetInfo("litellm", "built-in (needs the litellm extra)", description, tuple(sorted(ROUTES)))


def _proxy_infos() -> list[TargetInfo]:
    """`litellm-proxy` and `http://…`, described without starting or reaching anything."""
    from conformance.targets.http import ALL_ROUTES

    routes = tuple(sorted(ALL_ROUTES))
    try:
        from conformance.targets.litellm_proxy import find_litellm

        description = f"the LiteLLM proxy server as a subprocess ({find_litellm()})"
    except TargetError as error:
        description = f"cannot load: {error}"
    return [
        TargetInfo("litellm-proxy", "built-in (needs litellm[proxy])", description, routes),
        TargetInfo(
            "http://HOST:PORT",
            "built-in",
            "any proxy already running; narrow with ?routes=… (README: Testing a running proxy)",
            routes,
        ),
        TargetInfo(
            "PATH.toml",
            "built-in",
            "a proxy described by a target file, started by the suite or by hand (README: Testing a running proxy)",
            routes,
        ),
    ]


def available() -> list[TargetInfo]:
    """Every target this installation can load, with its routes."""
    from conformance.targets.passthrough import ROUTES as PASSTHROUGH_ROUTES
    from conformance.targets.reference import Reference

    infos = [
        TargetInfo(
            "reference", "built-in", "our faithful implementation of every route", tuple(sorted(Reference.routes))
        ),
        TargetInfo(
            "passthrough",
            "built-in",
            "a transparent pipe over HTTP on 127.0.0.1, changing nothing: the null implementation",
            tuple(sorted(PASSTHROUGH_ROUTES)),
        ),
    ]
    infos.append(_litellm_info())
    infos += _proxy_infos()
    for name, mutant in sorted(_mutants().items()):
        infos.append(
            TargetInfo(
                f"mutant:{name}",
                "mutant",
                f"{mutant.bug} (caught by {mutant.caught_by})",
                tuple(sorted(mutant.factory().routes)),
            )
        )
    for name, ep in sorted(_entry_points().items()):
        try:
            routes = tuple(sorted(_instantiate(ep.load(), name).routes))
            infos.append(TargetInfo(name, "entry point", ep.value, routes))
        except Exception as error:  # one broken plugin must not hide the others
            infos.append(TargetInfo(name, "entry point", f"cannot load: {error}", ()))
    return infos
