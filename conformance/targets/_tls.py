"""One TLS context for every HTTP client the targets open."""

from __future__ import annotations

import ssl
from functools import cache

import httpx

__all__ = ["tls_context"]


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default context (the CA bundle it trusts, `SSL_CERT_FILE` honoured), built once per
    process. A client made without one builds its own, loading the whole bundle (about 20 ms), and
    the targets make a client per stream: a fresh connection each time, as a proxy's client would."""
    return httpx.create_ssl_context()
