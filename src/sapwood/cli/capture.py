"""`sapwood capture`: packets (live on an interface, or from a pcap file) to AntiNex-v1 rows
pushed to a feed in batches."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dpkt
import typer

from sapwood.cli.errors import CliError
from sapwood.cli.output import print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.client import Client, ConnectionFailedError
from sapwood.feeds.packets import Row, frame_row, keep
from sapwood.schemas.feeds import ARROW_STREAM
from sapwood.specs.antinex import LABEL_NAME, LABEL_VALUE

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # loopback shows each packet twice: keep the incoming copy
_RETRIES = 5


def parse_ports(text: str | None) -> set[int] | None:
    if not text:
        return None
    ports: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise CliError(f"--ports: {part!r} is not a port number (1-65535)")
        ports.add(int(part))
    return ports


def pcap_frames(path: Path) -> Iterator[bytes]:
    """The frames of a pcap or pcapng file; CliError for anything else or a non-Ethernet link."""
    with path.open("rb") as f:
        try:
            reader: dpkt.pcap.Reader | dpkt.pcapng.Reader = dpkt.pcap.Reader(f)
        except (ValueError, dpkt.UnpackError):
            f.seek(0)
            try:
                reader = dpkt.pcapng.Reader(f)
            except (ValueError, dpkt.UnpackError):
                raise CliError(f"{path.name} is not a pcap or pcapng file") from None
        if reader.datalink() != dpkt.pcap.DLT_EN10MB:
            raise CliError(
                f"{path.name} is not an Ethernet capture (link type {reader.datalink()})"
            )
        for _, frame in reader:
            yield bytes(frame)


def open_raw_socket(iface: str) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise CliError(
            "live capture needs root or the CAP_NET_RAW capability",
            hint="run it as root, or capture to a file (tcpdump -w FILE) and use --pcap FILE",
        ) from None
    try:
        sock.bind((iface, 0))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot capture on interface {iface!r}: {exc.strerror}") from None
    sock.settimeout(0.2)
    return sock


def live_frames(sock: socket.socket, *, stop_at: float | None) -> Iterator[bytes]:
    """Frames as they arrive; yields b"" on quiet ticks so callers can flush."""
    while stop_at is None or time.monotonic() < stop_at:
        try:
            frame, address = sock.recvfrom(65535)
        except TimeoutError:
            yield b""
            continue
        if address[2] != PACKET_OUTGOING:
            yield frame


class Pusher:
    """Buffers rows and pushes them in batches with batch ids, retrying a lost connection."""

    def __init__(
        self,
        client: Client,
        feed: str,
        *,
        prefix: str,
        batch: int,
        label: float | None,
        label_name: str | None,
    ) -> None:
        self._client = client
        self._feed = feed
        self._prefix = prefix
        self._batch = batch
        self._label = label
        self._label_name = label_name
        self._rows: list[Row] = []
        self.sent_batches = 0
        self.pushed = 0

    def add(self, row: Row) -> None:
        if self._label is not None:
            row[LABEL_VALUE] = self._label
        self._rows.append(row)
        if len(self._rows) >= self._batch:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        from sapwood.schemas.arrow import to_ipc

        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows)
        if self._label_name is not None:
            table = table.append_column(LABEL_NAME, pa.array([self._label_name] * len(self._rows)))
        batch_id = f"{self._prefix}-{self.sent_batches:06d}"
        body = to_ipc(table, compress=True)
        for attempt in range(_RETRIES):
            try:
                answer = self._client.push_records(
                    self._feed, body, content_type=ARROW_STREAM, batch_id=batch_id
                )
                break
            except ConnectionFailedError:
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.5 * 2**attempt)  # the same batch id: a retry never duplicates
        self.pushed += answer.accepted
        self.sent_batches += 1
        self._rows = []


def capture(
    feed: str = typer.Option(..., "--feed", help="the feed to push rows to"),
    iface: str | None = typer.Option(None, "--iface", "-i", help="capture live on this interface"),
    pcap: Path | None = typer.Option(None, "--pcap", help="read packets from a pcap file"),
    ports: str | None = typer.Option(
        None, "--ports", help="only packets to or from these, e.g. 80,443"
    ),
    batch: int = typer.Option(1000, "--batch", min=1, max=100_000, help="rows per push"),
    flush_every: float = typer.Option(
        1.0, "--flush-every", min=0.05, help="push at least this often (s)"
    ),
    count: int | None = typer.Option(
        None, "--count", "-c", min=1, help="stop after this many rows"
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="stop after this long (s)"
    ),
    label: float | None = typer.Option(
        None, "--label", help="label_value for every row (1 = attack)"
    ),
    label_name: str | None = typer.Option(None, "--label-name", help="label_name for every row"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Turn packets into AntiNex-v1 rows and push them to a feed in batches."""
    if (iface is None) == (pcap is None):
        raise CliError("give exactly one of --iface IFACE or --pcap FILE")
    wanted = parse_ports(ports)
    if pcap is not None:
        if not pcap.is_file():
            raise CliError(f"no such file: {pcap}")
        frames: Iterator[bytes] = pcap_frames(pcap)
        prefix = "pcap-" + hashlib.sha256(pcap.read_bytes()).hexdigest()[:20]
        sock = None
    else:
        assert iface is not None
        sock = open_raw_socket(iface)
        stop_at = time.monotonic() + duration if duration is not None else None
        frames = live_frames(sock, stop_at=stop_at)
        prefix = f"live-{socket.gethostname()[:20]}-{os.getpid()}-{int(time.time())}"
    index = 0
    with connect(team=team) as client:
        pusher = Pusher(
            client, feed, prefix=prefix, batch=batch, label=label, label_name=label_name
        )
        last_flush = time.monotonic()
        try:
            for frame in frames:
                if frame:
                    row = frame_row(frame, index)
                    if keep(row, wanted):
                        index += 1
                        pusher.add(row)
                if time.monotonic() - last_flush >= flush_every:
                    pusher.flush()
                    last_flush = time.monotonic()
                if count is not None and index >= count:
                    break
        except KeyboardInterrupt:
            print_err("stopped")
        finally:
            if sock is not None:
                sock.close()
        pusher.flush()
    source = str(pcap) if pcap is not None else f"interface {iface}"
    print_out(
        f"pushed {pusher.pushed} rows from {source} to feed/{feed} in {pusher.sent_batches} batches"
    )
