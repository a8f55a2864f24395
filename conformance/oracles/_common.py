"""What both client oracles share: applicability, the client's name and version, wording, and the
memory of what a client made of each response it read."""

from __future__ import annotations

import atexit
import json
import os
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

from conformance.invariants import Violation
from conformance.semantics import first_difference, truncate
from conformance.stream import Context

__all__ = [
    "TIMEOUT",
    "Read",
    "Reads",
    "compared",
    "client_name",
    "describe_error",
    "differences",
    "differs",
    "http_client",
    "response_key",
    "unreadable",
]

TIMEOUT = 10.0
"""Seconds an SDK client may take over one stream; the loopback server sends it all at once."""


_http_lock = threading.Lock()
_http_clients: dict[tuple[int, int], Any] = {}


def http_client(sdk: Any) -> Any:
    """One `sdk.DefaultHttpxClient` per SDK and process, shared by every oracle run.

    Building one loads the CA bundle (~20 ms), which would dominate each run; the SDK's own
    `DefaultHttpxClient` keeps its defaults. `trust_env=False`: proxy variables must not route
    loopback requests elsewhere. Never close it per run; it is closed at interpreter exit.
    """
    # Keyed by the class itself: a re-imported SDK (pytester's in-process runs restore
    # sys.modules) rejects a client built from its previous incarnation's class.
    key = (id(sdk.DefaultHttpxClient), os.getpid())
    with _http_lock:
        client = _http_clients.get(key)
        if client is None:
            client = _http_clients[key] = sdk.DefaultHttpxClient(trust_env=False, timeout=TIMEOUT)
            atexit.register(client.close)
        return client


@dataclass(frozen=True, slots=True)
class Read:
    """What an SDK client made of one response: what it returned, or what it raised."""

    result: Any = None
    error: Exception | None = None


def response_key(sdk: ModuleType, raw: bytes, status: int, *request: Any) -> tuple[Hashable, ...]:
    """Everything a client's reading depends on: the SDK (by module: a re-imported SDK is another
    client), the response (body and status) and the request arguments, which set up its stream
    helper. The request is JSON, keyed by its canonical text."""
    return (sdk, bytes(raw), status, json.dumps(request, sort_keys=True))


class Reads:
    """What an SDK client made of each distinct response, kept so that it reads each one once.

    The default schedules run every capture × route twice, and a target whose output does not
    depend on the chunking streams the same bytes both times (one that stamps fresh ids or clocks
    does not, and each of its outputs is read). Given a `response_key`, the client would make the
    same read again, so the oracle's verdict is the same. The most recent `size` reads are kept. A
    read that could not reach the loopback server (`transient`) is the harness's trouble, not the
    client's verdict on the stream, and is not kept.
    """

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Read] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, read: Callable[[], Any], transient: type[Exception] | tuple[type[Exception], ...]
    ) -> Read:
        """The kept read for `key`, or a new one made by calling `read`."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        try:
            made = Read(result=read())
        except transient as error:
            return Read(error=error)
        except Exception as error:  # any exception is the client's verdict on the stream
            made = Read(error=error)
        with self._lock:
            self._kept[key] = made
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made


def compared(ctx: Context) -> bool:
    """Oracles judge a stream only against a capture's `expect`."""
    return ctx.expect is not None


@cache  # asked for every stream judged; reading the package metadata took about 2 ms
def client_name(distribution: str, label: str) -> str:
    """`label version`, e.g. 'openai-python 3.54.0', as every violation names the client."""
    try:
        return f"{label} {version(distribution)}"
    except PackageNotFoundError:
        return f"{label} (not installed)"


def describe_error(error: BaseException, package: str) -> str:
    """`Type: message (at package/file.py:line)`, the line being the innermost one inside the SDK."""
    text = " ".join(str(error).split()) or "(no message)"
    where = ""
    marker = f"{os.sep}{package}{os.sep}"
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if marker in frame.filename:
            where = f" (at {package}/{frame.filename.rsplit(marker, 1)[1].replace(os.sep, '/')}:{frame.lineno})"
            break
    return f"{type(error).__name__}: {truncate(text, 300)}{where}"


def unreadable(client: str, error: BaseException, package: str) -> Violation:
    """The client could not even reach the oracle's loopback server: said as the harness's trouble."""
    return Violation(
        f"{client} could not read the stream from the oracle's loopback server: {describe_error(error, package)}",
        "the stream served over loopback",
        type(error).__name__,
    )


def differences(client: str, checks: Iterable[tuple[str, Any, Any]]) -> Iterator[Violation]:
    """A violation for each (what, expected, actual) the client assembled differently."""
    for what, expected, actual in checks:
        if expected != actual:
            yield Violation(differs(client, what, expected, actual), expected, actual)


def differs(client: str, what: str, expected: Any, actual: Any) -> str:
    """'<client> assembled <what> <actual>, expected <expected>', with the first difference for text."""
    message = f"{client} assembled {what} {_short(actual)}, expected {_short(expected)}"
    if isinstance(expected, str) and isinstance(actual, str):
        message += f" ({first_difference(expected, actual)})"
    return message


def _short(value: Any) -> str:
    return truncate(repr(value), 120)
