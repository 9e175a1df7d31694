"""Container logs as the API double's kubelet keeps them: per pod, line by line, stamped.

What the real kubelet does and this reproduces: every line carries the time it was
written (shown with `timestamps=true`, RFC 3339 with nanoseconds, trailing zeros
trimmed as Go prints them); `sinceTime`/`sinceSeconds`, `tailLines` and `limitBytes`
select what is sent; a follow stream sends new output as it comes and ends when the
container ends. When a pod leaves the API (deleted for good) its containers, and so
its log, are gone; a pod being deleted whose containers have stopped loses them to the
kubelet's container garbage collection (`collect`), after which pods/log answers 200
with the kubelet's notice "unable to retrieve container logs for <id>" instead of the
log. `end_streams` closes every open follow stream early, as an API server or kubelet
restart (or a proxy's idle timeout) does, while the containers keep running.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.responses import Response, StreamingResponse

from sapwood.testing.kube_store import ApiError, KubeStore, Obj

Key = tuple[str, str]  # namespace, pod name


def rfc3339_nano(ns: int) -> str:
    """`ns` since the epoch as Go's time.RFC3339Nano prints it in UTC."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    stem = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stem}.{fraction}Z" if fraction else f"{stem}Z"


def parse_since(text: str) -> int:
    """A sinceTime (RFC 3339) in ns since the epoch."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass
class PodLog:
    """One container's output and when each of its lines began (ns since the epoch)."""

    data: bytearray = field(default_factory=bytearray)
    starts: list[int] = field(default_factory=list)  # byte offset of each line
    stamps: list[int] = field(default_factory=list)  # when that line began

    def write(self, chunk: bytes, now_ns: int) -> None:
        if not chunk:
            return
        offset = len(self.data)
        begins = [] if offset and self.data[-1:] != b"\n" else [offset]
        begins += [offset + i + 1 for i, byte in enumerate(chunk[:-1]) if byte == ord("\n")]
        self.data += chunk
        self.starts += begins
        self.stamps += [now_ns] * len(begins)

    def first_line(self, *, since_ns: int | None, tail_lines: int | None) -> int:
        """The index of the first line to send."""
        first = 0
        if since_ns is not None:
            first = bisect.bisect_left(self.stamps, since_ns)
        if tail_lines is not None:
            first = max(first, len(self.starts) - tail_lines)
        return first

    def render(self, begin: int, end: int, *, timestamps: bool) -> bytes:
        """Bytes [begin, end) of the log, each line start in it stamped if asked."""
        if not timestamps:
            return bytes(self.data[begin:end])
        out = bytearray()
        cursor = begin
        line = bisect.bisect_left(self.starts, begin)
        while line < len(self.starts) and self.starts[line] < end:
            out += self.data[cursor : self.starts[line]]
            out += rfc3339_nano(self.stamps[line]).encode() + b" "
            cursor = self.starts[line]
            line += 1
        out += self.data[cursor:end]
        return bytes(out)


@dataclass(frozen=True)
class LogQuery:
    """The pods/log query parameters the double honours."""

    timestamps: bool = False
    since_ns: int | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None

    @staticmethod
    def parse(params: dict[str, str], *, now_ns: int) -> LogQuery:
        since: int | None = None
        if params.get("sinceTime"):
            since = parse_since(params["sinceTime"])
        elif params.get("sinceSeconds"):
            since = now_ns - int(params["sinceSeconds"]) * 1_000_000_000
        tail = params.get("tailLines")
        limit = params.get("limitBytes")
        return LogQuery(
            timestamps=params.get("timestamps") in ("true", "1"),
            since_ns=since,
            tail_lines=None if tail is None else int(tail),
            limit_bytes=None if limit is None else int(limit),
        )


@dataclass
class LogBook:
    """Every pod's log, behind the caller's lock (the API double's store lock)."""

    lock: threading.RLock
    logs: dict[Key, PodLog] = field(default_factory=dict)
    collected: set[Key] = field(default_factory=set)
    generation: int = 0  # bumped by end_streams: open follow streams end

    def write(self, key: Key, chunk: bytes) -> None:
        with self.lock:
            self.logs.setdefault(key, PodLog()).write(chunk, time.time_ns())

    def forget(self, key: Key) -> None:
        """The pod left the API: its containers and their logs go with it."""
        with self.lock:
            self.logs.pop(key, None)
            self.collected.discard(key)

    def collect(self, key: Key) -> None:
        with self.lock:
            self.logs.pop(key, None)
            self.collected.add(key)

    def end_streams(self) -> None:
        with self.lock:
            self.generation += 1

    def read(self, key: Key, query: LogQuery) -> bytes:
        with self.lock:
            log = self.logs.get(key) or PodLog()
            first = log.first_line(since_ns=query.since_ns, tail_lines=query.tail_lines)
            begin = log.starts[first] if first < len(log.starts) else len(log.data)
            out = log.render(begin, len(log.data), timestamps=query.timestamps)
        return out if query.limit_bytes is None else out[: query.limit_bytes]

    def follow_from(self, key: Key, query: LogQuery) -> int:
        """The byte offset a follow stream starts at."""
        with self.lock:
            log = self.logs.get(key) or PodLog()
            first = log.first_line(since_ns=query.since_ns, tail_lines=query.tail_lines)
            return log.starts[first] if first < len(log.starts) else len(log.data)

    def more(self, key: Key, sent: int, query: LogQuery) -> tuple[bytes, int]:
        """What a follow stream at offset `sent` sends next, and its new offset."""
        with self.lock:
            log = self.logs.get(key) or PodLog()
            end = len(log.data)
            return log.render(sent, end, timestamps=query.timestamps), end


_TERMINAL = ("Succeeded", "Failed")


def _container_id(pod: Obj) -> str:
    return f"containerd://{str(pod['metadata'].get('uid', '')).replace('-', '')}"


def log_response(
    store: KubeStore,
    book: LogBook,
    closing: threading.Event,
    namespace: str,
    name: str,
    params: dict[str, str],
) -> Response:
    """pods/log for pod `name`: the log (or its stream), or the kubelet's refusal."""
    pod = store.get("pods", namespace, name)
    container = params.get("container") or "main"
    if params.get("previous") in ("true", "1"):
        message = f'previous terminated container "{container}" in pod "{name}" not found'
        raise ApiError(400, "BadRequest", message)
    if not pod.get("status", {}).get("phase"):
        message = f'container "{container}" in pod "{name}" is waiting to start'
        raise ApiError(400, "BadRequest", message)
    key = (namespace, name)
    if key in book.collected:  # the kubelet answers 200 with its notice as the body
        notice = f"unable to retrieve container logs for {_container_id(pod)}"
        return Response(notice.encode(), media_type="text/plain")
    query = LogQuery.parse(dict(params), now_ns=time.time_ns())
    if params.get("follow") not in ("true", "1"):
        return Response(book.read(key, query), media_type="text/plain")
    return StreamingResponse(_follow(store, book, closing, key, query), media_type="text/plain")


async def _follow(
    store: KubeStore, book: LogBook, closing: threading.Event, key: Key, query: LogQuery
) -> AsyncIterator[bytes]:
    sent = book.follow_from(key, query)
    generation = book.generation
    while not closing.is_set() and book.generation == generation:
        data, sent = book.more(key, sent, query)
        with store.lock:
            pod = store.objects.get(("pods", *key))
        if data:
            yield data
        elif pod is None or pod.get("status", {}).get("phase") in _TERMINAL:
            return
        await asyncio.sleep(0.02)


class LogHooks:
    """The API double's test hooks on container logs (mixed into KubeApiDouble)."""

    store: KubeStore
    logbook: LogBook

    def write_log(self, namespace: str, name: str, data: bytes) -> None:
        """The pod's container writes `data` (each line stamped with the time now)."""
        self.logbook.write((namespace, name), data)

    def collect_containers(self) -> None:
        """The kubelet's container garbage collection: pods being deleted whose containers
        have ended lose them (pods/log then answers the kubelet's notice)."""
        with self.store.lock:
            for (plural, namespace, name), pod in self.store.objects.items():
                ended = pod.get("status", {}).get("phase") in _TERMINAL
                if plural == "pods" and ended and pod["metadata"].get("deletionTimestamp"):
                    self.logbook.collect((namespace, name))

    def end_log_streams(self) -> None:
        """End every open pods/log follow stream now (an API server or kubelet restart);
        the containers keep running and writing."""
        self.logbook.end_streams()

    def drop_logs(self, store: KubeStore, plural: str, type_: str, obj: Obj) -> None:
        """A store change hook: a pod that left the API takes its containers' logs along."""
        if plural == "pods" and type_ == "DELETED":
            meta = obj["metadata"]
            self.logbook.forget((meta.get("namespace", ""), meta["name"]))
