"""SSE parsing throughput: our parser against httpx-sse's and the openai package's decoders.

Every parser gets the same bytes (the whole corpus, replicated to at least 20 MB), cut into the
same reads, and turns them into events from raw bytes: httpx-sse through the incremental UTF-8
decoding that `EventSource.iter_sse` gets from `httpx.Response.iter_text`, then its line and event
decoders; openai through `SSEDecoder.iter_bytes`, which its `Stream` uses. Ours additionally
records the framing observations and event offsets.

    python bench/sse_throughput.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import codecs

from _common import best_of, machine, replicated_corpus, table

from conformance.sse import SSEParser


def reads(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours(chunks: list[bytes]) -> int:
    parser = SSEParser()
    count = 0
    for chunk in chunks:
        count += len(parser.feed(chunk))
    count += len(parser.close())
    return count


def httpx_sse(chunks: list[bytes]) -> int:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        for line in lines.decode(text_decoder.decode(chunk)):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    for line in lines.decode(text_decoder.decode(b"", final=True)) + lines.flush():
        if decoder.decode(line.rstrip("\n")) is not None:
            count += 1
    return count


def openai_sse(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    return sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))


PARSERS = {"conformance.sse (ours)": ours, "httpx-sse": httpx_sse, "openai._streaming": openai_sse}


def run(mb: float, repeat: int) -> list[list[object]]:
    data = replicated_corpus(int(mb * 1_000_000))
    rows: list[list[object]] = []
    for read_size in (65536, 1024):
        chunks = reads(data, read_size)
        timings = {name: best_of(repeat, lambda f=f, chunks=chunks: f(chunks)) for name, f in PARSERS.items()}
        base = timings["httpx-sse"][0]
        for name, (seconds, events) in timings.items():
            rows.append(
                [
                    f"{read_size} B",
                    name,
                    f"{len(data) / seconds / 1e6:.1f}",
                    f"{events / seconds / 1e3:.0f} k",
                    events,
                    f"{base / seconds:.2f}x",
                ]
            )
    print(f"SSE parsing: {len(data) / 1e6:.1f} MB ({machine()}), best of {repeat}")
    print(table(["reads", "parser", "MB/s", "events/s", "events", "vs httpx-sse"], rows))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(args.mb, args.repeat)


if __name__ == "__main__":
    main()
