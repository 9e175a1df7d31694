"""`sapwood capture`: packets (live on an interface, or from a pcap file) to AntiNex-v1 rows
pushed to a feed in batches, or written to a CSV file."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dpkt
import typer

from sapwood.cli.capture_sinks import CsvWriter, Pusher, Sink, open_csv
from sapwood.cli.errors import CliError
from sapwood.cli.output import print_err, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.feeds.packets import frame_row, keep

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # loopback shows each packet twice: keep the incoming copy


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


def capture(
    feed: str | None = typer.Option(None, "--feed", help="the feed to push rows to"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="write the rows to this CSV file instead of a feed"
    ),
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
    """Turn packets into AntiNex-v1 rows and push them to a feed in batches (or --out CSV)."""
    if (iface is None) == (pcap is None):
        raise CliError("give exactly one of --iface IFACE or --pcap FILE")
    if (feed is None) == (out is None):
        raise CliError("give exactly one of --feed NAME or --out FILE.csv")
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
    source = str(pcap) if pcap is not None else f"interface {iface}"
    if out is not None:
        try:
            handle = open_csv(out)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror}") from None
        with handle:
            writer = CsvWriter(handle, label=label, label_name=label_name)
            _drain(frames, writer, sock, wanted=wanted, count=count, flush_every=flush_every)
        print_out(f"wrote {writer.rows} rows from {source} to {out}")
        return
    assert feed is not None
    with connect(team=team) as client:
        pusher = Pusher(
            client, feed, prefix=prefix, batch=batch, label=label, label_name=label_name
        )
        _drain(frames, pusher, sock, wanted=wanted, count=count, flush_every=flush_every)
    print_out(
        f"pushed {pusher.rows} rows from {source} to feed/{feed} in {pusher.sent_batches} batches"
    )


def _drain(
    frames: Iterator[bytes],
    sink: Sink,
    sock: socket.socket | None,
    *,
    wanted: set[int] | None,
    count: int | None,
    flush_every: float,
) -> None:
    """Rows from frames into the sink until the frames end, `count` rows, or Ctrl-C."""
    index = 0
    last_flush = time.monotonic()
    try:
        for frame in frames:
            if frame:
                row = frame_row(frame, index)
                if keep(row, wanted):
                    index += 1
                    sink.add(row)
            if time.monotonic() - last_flush >= flush_every:
                sink.flush()
                last_flush = time.monotonic()
            if count is not None and index >= count:
                break
    except KeyboardInterrupt:
        print_err("stopped")
    finally:
        if sock is not None:
            sock.close()
    sink.flush()
