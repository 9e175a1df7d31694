"""A lean HTTP/1.1 load generator for serving.py (standard library, plus uvloop if present).

    python bench/_loadgen.py --port 8000 --path /predict --body-file body.json \
        --concurrency 64 --seconds 10 [--warmup-seconds 1] [--host 127.0.0.1]

One asyncio process, one persistent keep-alive connection per concurrent worker; each worker
sends the same pre-encoded request (head and body in one buffer), reads the status line and
headers up to the blank line, then exactly Content-Length bytes of body (chunked bodies are
read too), and sends again: a closed loop with `concurrency` requests in flight. Nothing
is parsed beyond that, so the client costs little CPU per request; its own CPU use over the
measured window is reported beside the figures, so a saturated client shows.

Requests that complete within the measured window (after the warm-up) count; latency is
from just before the write to the end of the body. A non-2xx status or a broken connection
counts as an error (a broken connection is reopened). Prints one JSON document on stdout
(with `--raw`, every latency in it too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from _latency_common import percentile

CONNECT_TIMEOUT_S = 10.0


def encode_request(host: str, port: int, path: str, body: bytes, headers: list[str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, content length or None, chunked?, will the server close?) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


async def read_body(
    reader: asyncio.StreamReader, length: int | None, chunked: bool, close: bool
) -> bytes:
    if chunked:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then a blank line
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if length is not None:
        return await reader.readexactly(length)
    if close:
        return await reader.read()
    return b""


class Worker:
    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.completed = 0  # 2xx answers, warm-up included (to share out server CPU)
        self.statuses: dict[int, int] = {}
        self.sample: bytes = b""

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.close()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT_S
        )
        self.reader, self.writer = reader, writer
        return reader, writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def run(self, start: float, end: float) -> None:
        clock = time.perf_counter
        while True:
            sent = clock()
            if sent >= end:
                return
            try:
                reader, writer = self.reader, self.writer
                if reader is None or writer is None:
                    reader, writer = await self.connect()
                writer.write(self.request)
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, chunked, close = parse_head(head)
                body = await read_body(reader, length, chunked, close)
                if close:
                    self.close()
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                self.close()
                if clock() >= start:
                    self.errors += 1
                await asyncio.sleep(0.01)
                continue
            done = clock()
            if not self.sample:
                self.sample = head + body
            if 200 <= status < 300:
                self.completed += 1
            if sent >= start and done <= end:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    self.latencies_ms.append((done - sent) * 1000.0)
                else:
                    self.errors += 1


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(args: argparse.Namespace, body: bytes) -> dict[str, object]:
    request = encode_request(args.host, args.port, args.path, body, args.header)
    workers = [Worker(args.host, args.port, request) for _ in range(args.concurrency)]
    await asyncio.gather(*(w.connect() for w in workers))
    now = time.perf_counter()
    start = now + args.warmup_seconds
    end = start + args.seconds
    tasks = [asyncio.ensure_future(w.run(start, end)) for w in workers]
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    cpu0, wall0 = cpu_s(), time.perf_counter()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    cpu1, wall1 = cpu_s(), time.perf_counter()
    await asyncio.gather(*tasks)
    for w in workers:
        w.close()
    latencies = [x for w in workers for x in w.latencies_ms]
    statuses: dict[str, int] = {}
    for w in workers:
        for status, n in w.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
    sample = next((w.sample for w in workers if w.sample), b"")
    return {
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "count": len(latencies),
        "completed": sum(w.completed for w in workers),
        "errors": sum(w.errors for w in workers),
        "statuses": statuses,
        "rps": len(latencies) / args.seconds,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "client_cpu_pct": 100.0 * (cpu1 - cpu0) / (wall1 - wall0),
        "sample_response": sample[-300:].decode(errors="replace"),
        **({"latencies_ms": [round(x, 4) for x in latencies]} if args.raw else {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="extra 'Name: value'")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--raw", action="store_true", help="print every latency too")
    args = parser.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(load(args, Path(args.body_file).read_bytes()))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
