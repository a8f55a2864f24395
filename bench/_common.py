"""Shared helpers for the benchmarks: the corpus bytes, timing, and a plain-text table."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def corpus_streams() -> list[bytes]:
    """Every capture's raw stream, in path order."""
    return [path.read_bytes() for path in sorted(CORPUS.rglob("*.sse"))]


def replicated_corpus(min_bytes: int) -> bytes:
    """The whole corpus, concatenated and repeated until it is at least `min_bytes` long."""
    one = b"".join(
        stream if stream.endswith((b"\n\n", b"\r\n\r\n", b"\r\r")) else stream + b"\n\n" for stream in corpus_streams()
    )
    copies = -(-min_bytes // len(one))
    return one * copies


def best_of(repeat: int, function: Callable[[], object]) -> tuple[float, object]:
    """The least CPU time (this process, one core) of `repeat` runs of `function()`, and its last
    result: CPU time rather than wall time, so that other load on the machine does not count."""
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def machine() -> str:
    return f"{os.cpu_count()} cores (nproc), Python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}"


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured Markdown table, also readable in a terminal."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
