"""Following one pod's log across early ends of the stream, without gaps or repeats.

An API server restart, a kubelet restart or a proxy's idle timeout ends a follow stream
while the container still runs; reading on from nothing would hang silently (the old
behaviour). So the stream is read with `timestamps=true`: each line comes stamped with the
time it was written, and `Resume` remembers how far it delivered, as (stamp, how many lines
had that same stamp, bytes of a line still being written). A new stream starts at
`sinceTime` (whole seconds, so it repeats a little) and `Resume` drops what was delivered
already, strips the stamps, and hands on the rest, partial lines included (a progress bar
shows as it moves). When a stream ends the pod is read: ended (or gone), the log is read
once more from the same point and following stops; still running, it reconnects. Errors
on reconnecting are retried with backoff; after `MAX_FAILURES` in a row following ends
with a line that says why. It never waits without a reason to.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sapwood.manifests.pods import CONTAINER_NAME
from sapwood.server.runtimes.kubernetes.client import TRANSPORT_ERRORS, KubeClient
from sapwood.server.runtimes.kubernetes.errors import ApiStatusError, translate, unreachable

Obj = dict[str, Any]

POLL_S = 0.5
MAX_FAILURES = 5
_WAITING = 400  # the container has not started: no log yet
_TERMINAL = ("Succeeded", "Failed")

Stamp = int  # ns since the epoch


_STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def parse_stamp(text: bytes) -> Stamp | None:
    """An RFC 3339 time with up to nine fraction digits (the kubelet's), as ns; None if
    `text` is not one."""
    match = _STAMP.fullmatch(text)
    if match is None:
        return None
    whole, fraction, zone = (part.decode() if part else "" for part in match.groups())
    try:
        moment = datetime.fromisoformat(whole + zone.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0"))


def since_time(stamp: Stamp) -> str:
    """The sinceTime that includes `stamp` (the API takes whole seconds)."""
    moment = datetime.fromtimestamp(stamp // 1_000_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Resume:
    """How far a followed log was delivered; turns stamped streams into plain output."""

    stamp: Stamp | None = None  # of the last line delivered (in part or whole)
    ordinal: int = 0  # that line's place among lines with the same stamp, from 0
    delivered: int = 0  # bytes of that line delivered (without the stamp)
    complete: bool = True  # its newline was delivered
    _buffer: bytes = b""
    _seen: dict[Stamp, int] = field(default_factory=dict)  # this stream's lines per stamp

    def since(self) -> str | None:
        return None if self.stamp is None else since_time(self.stamp)

    def new_stream(self) -> None:
        self._buffer = b""
        self._seen = {}

    def feed(self, chunk: bytes) -> bytes:
        """The output in `chunk` not delivered before, without stamps."""
        self._buffer += chunk
        out = bytearray()
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            out += self._line(line, complete=True)
        if b" " in self._buffer:  # a line being written: deliver what has come
            out += self._line(self._buffer, complete=False)
        return bytes(out)

    def _line(self, line: bytes, *, complete: bool) -> bytes:
        head, _, text = line.partition(b" ")
        stamp = parse_stamp(head)
        if stamp is None:  # not stamped (an old server?): hand it on as it is
            return line + b"\n" if complete else b""
        ordinal = self._seen.get(stamp, 0)
        if complete:
            self._seen[stamp] = ordinal + 1
        ending = b"\n" if complete else b""
        if self.stamp is not None and (stamp, ordinal) < (self.stamp, self.ordinal):
            return b""
        if self.stamp is not None and (stamp, ordinal) == (self.stamp, self.ordinal):
            if self.complete:
                return b""
            new = text[self.delivered :]
            self.delivered = len(text)
            self.complete = complete
            return new + ending
        self.stamp, self.ordinal, self.delivered, self.complete = (
            stamp,
            ordinal,
            len(text),
            complete,
        )
        return text + ending


def _main_ended(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in _TERMINAL:
        return True
    for container in status.get("containerStatuses") or []:
        if container.get("name") == CONTAINER_NAME:
            return "terminated" in (container.get("state") or {})
    return False


def _paths(pod: Obj) -> tuple[str, str]:
    meta = pod["metadata"]
    base = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
    return base, f"{base}/log"


def _query(resume: Resume, *, follow: bool) -> list[tuple[str, str | int | bool]]:
    query: list[tuple[str, str | int | bool]] = [
        ("container", CONTAINER_NAME),
        ("timestamps", "true"),
    ]
    if follow:
        query.append(("follow", "true"))
    since = resume.since()
    if since is not None:
        query.append(("sinceTime", since))
    return query


async def follow_pod(kube: KubeClient, pod: Obj) -> AsyncIterator[bytes]:
    """Streams one pod's log until its main container ends (or the pod goes); waits
    while it has not started; resumes after early ends (see the module docstring)."""
    resume = Resume()
    pod_path, log_path = _paths(pod)
    failures = 0
    while True:
        resume.new_stream()
        try:
            async for chunk in _stream(kube, log_path, _query(resume, follow=True)):
                failures = 0
                if out := resume.feed(chunk):
                    yield out
            now = await asyncio.to_thread(kube.get, pod_path)
        except ApiStatusError as error:
            if error.status == 404:
                return  # the pod is gone, and its log with it
            if error.status != _WAITING and error.status < 500 and error.status != 429:
                raise translate(error, action="follow a log") from error
            if error.status != _WAITING:
                failures += 1
                last: object = translate(error, action="follow a log")
            now = pod
        except TRANSPORT_ERRORS as error:
            failures += 1
            last = unreachable(error, action="follow a log")
            now = pod
        if failures >= MAX_FAILURES:
            yield _gave_up(pod, f"{failures} attempts to read on failed, the last: {last}")
            return
        if now is None:
            return
        if _main_ended(now):
            async for out in _last_read(kube, log_path, resume):
                yield out
            return
        await asyncio.sleep(POLL_S * (2 ** min(failures, 4)))


def _gave_up(pod: Obj, why: object) -> bytes:
    name = pod["metadata"]["name"]
    return f"\n[sapwood] stopped following the log of pod {name}: {why}\n".encode()


async def _last_read(kube: KubeClient, log_path: str, resume: Resume) -> AsyncIterator[bytes]:
    """What the container wrote after the stream that just ended (once it has ended)."""
    resume.new_stream()
    try:
        data = await asyncio.to_thread(kube.read, log_path, query=_query(resume, follow=False))
    except ApiStatusError as error:
        if error.status in (400, 404):
            return
        raise translate(error, action="read a log") from error
    except TRANSPORT_ERRORS as error:
        raise unreachable(error, action="read a log") from error
    if out := resume.feed(data):
        yield out


async def _stream(
    kube: KubeClient, path: str, query: list[tuple[str, str | int | bool]]
) -> AsyncIterator[bytes]:
    """One follow request's chunks as they come (read in a thread); raises what it met."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    holder: dict[str, Any] = {}
    done = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is reading
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            raw = kube.open_stream(path, query=query, read_timeout_s=24 * 3600)
            holder["raw"] = raw
            try:
                for chunk in raw.stream(64 * 1024, decode_content=True):
                    if done.is_set():
                        break
                    put(chunk)
            finally:
                raw.release_conn()
            put(None)
        except BaseException as error:
            put(error)

    threading.Thread(target=pump, name="sapwood-log-follow", daemon=True).start()
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                if done.is_set() and isinstance(item, TRANSPORT_ERRORS):
                    return
                raise item
            yield item
    finally:
        done.set()
        raw = holder.get("raw")
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.shutdown()
