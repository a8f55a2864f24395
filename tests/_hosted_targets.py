"""Targets for tests/test_hosted_target.py, loaded in the hosted child by `module:attr`, so they
live in a module of their own that the child imports from tests/ (the tests put it on PYTHONPATH).
Each behaves as the request's `behaviour` field says."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from conformance.protocols import OPENAI_CHAT
from conformance.targets.base import Abort, Exchange, Head

ROUTE = (OPENAI_CHAT, OPENAI_CHAT)
FRAMES = [b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"]
CUT_OFF = "connection reset \u2014 after two frames"  # not ASCII: the reason crosses the link as UTF-8


class Scripted:
    name = "scripted"
    version = "1"
    routes = frozenset({ROUTE})

    async def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Head]:
        behaviour = exchange.request.get("behaviour", "")
        if behaviour == "head":
            yield Head(429, (("content-type", "application/json"),))
            yield b'{"error": {"message": "slow down"}}'
            return
        try:
            for index, frame in enumerate(FRAMES):
                if behaviour == "raises" and index == 1:
                    raise ValueError("boom after one frame")
                if behaviour == "crashes" and index == 1:
                    print("about to crash", file=sys.stderr, flush=True)
                    os._exit(7)
                yield frame
                if behaviour == "waits":
                    await asyncio.sleep(3600)
        except BaseException as error:
            marker = exchange.request.get("marker")
            if marker:  # how the stream ended, for the test to read
                Path(marker).write_text(type(error).__name__)
            raise


class Aborting:
    """Two frames, then the `Abort` of a response cut off before its end."""

    name = "aborting"
    version = "1"
    routes = frozenset({ROUTE})

    async def stream(self, exchange: Exchange) -> AsyncIterator[bytes | Abort]:
        for frame in FRAMES[:2]:
            yield frame
        yield Abort(CUT_OFF)


class Unloadable:
    def __init__(self) -> None:
        raise RuntimeError("cannot start here")
