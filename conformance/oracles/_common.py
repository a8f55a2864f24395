"""What both client oracles share: applicability, the client's name and version, and wording."""

from __future__ import annotations

import atexit
import os
import threading
import traceback
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from conformance.semantics import first_difference, truncate
from conformance.stream import Context

__all__ = ["TIMEOUT", "compared", "client_name", "describe_error", "differs", "http_client"]

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


def compared(ctx: Context) -> bool:
    """Oracles judge a stream only against a capture's `expect`."""
    return ctx.expect is not None


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


def differs(client: str, what: str, expected: Any, actual: Any) -> str:
    """'<client> assembled <what> <actual>, expected <expected>', with the first difference for text."""
    message = f"{client} assembled {what} {_short(actual)}, expected {_short(expected)}"
    if isinstance(expected, str) and isinstance(actual, str):
        message += f" ({first_difference(expected, actual)})"
    return message


def _short(value: Any) -> str:
    return truncate(repr(value), 120)
