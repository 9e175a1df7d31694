"""`sapwood capture`: packets the test writes to a pcap, and packets it sends over loopback,
become AntiNex-v1 rows in a feed."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import dpkt
import pytest

from sapwood.client import Client
from sapwood.schemas.arrow import from_ipc
from sapwood.testing.servers import LiveServer
from tests.integration.cli.conftest import Sapwood

FEED_YAML = (
    "apiVersion: sapwood/v1\n"
    "kind: Feed\n"
    "metadata: {name: packets}\n"
    "spec: {schema: antinex-v1, model: ids@production, workers: {min: 0, max: 0}}\n"
)


def _tcp_frame(sport: int, dport: int, seq: int, *, syn: bool = False) -> bytes:
    options = b""
    if syn:  # MSS 1460, SACK permitted, timestamps, window scale 7
        options = (
            b"\x02\x04\x05\xb4"
            + b"\x04\x02"
            + b"\x08\x0a\x00\x00\x30\x39\x00\x00\x00\x00"
            + b"\x01\x03\x03\x07"
        )
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=dpkt.tcp.TH_SYN, opts=options)
    tcp.off = (20 + len(options)) // 4
    ip = dpkt.ip.IP(src=b"\x7f\x00\x00\x01", dst=b"\x7f\x00\x00\x01", p=dpkt.ip.IP_PROTO_TCP)
    ip.data = tcp
    ip.len = 20 + len(bytes(tcp))
    eth = dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, type=dpkt.ethernet.ETH_TYPE_IP)
    eth.data = ip
    return bytes(eth)


def _udp_dns_frame() -> bytes:
    query = dpkt.dns.DNS(id=4242, qd=[dpkt.dns.DNS.Q(name="example.org")])
    udp = dpkt.udp.UDP(sport=5353, dport=53, data=bytes(query))
    udp.ulen = 8 + len(bytes(query))
    ip = dpkt.ip.IP(src=b"\x7f\x00\x00\x01", dst=b"\x7f\x00\x00\x01", p=dpkt.ip.IP_PROTO_UDP)
    ip.data = udp
    eth = dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth)


def _pcap(folder: Path, *frames: bytes) -> Path:
    """A pcap file holding `frames`, one a second."""
    path = folder / "traffic.pcap"
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for second, frame in enumerate(frames, start=1):
            writer.writepkt(frame, ts=float(second))
    return path


@pytest.fixture
def feed_applied(sapwood: Sapwood, specs: Path) -> None:
    (specs / "feed.yaml").write_text(FEED_YAML)
    assert sapwood("apply", "-f", str(specs / "feed.yaml")).exit_code == 0


def _records(server: LiveServer) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with Client(server.url, token=server.admin_token) as client:
        while (batch := client.lease_batch("packets")) is not None:
            rows += from_ipc(batch.records).to_pylist()
    return rows


@pytest.mark.usefixtures("feed_applied")
def test_a_pcap_file_becomes_rows(
    sapwood: Sapwood, tmp_path: Path, live_server: LiveServer
) -> None:
    path = _pcap(
        tmp_path,
        _tcp_frame(40000, 7777, 1000, syn=True),
        _tcp_frame(40001, 9999, 2000),  # filtered out by --ports
        _udp_dns_frame(),
    )
    result = sapwood("capture", "--pcap", str(path), "--feed", "packets", "--ports", "7777,53")
    assert result.exit_code == 0, result.output
    assert "pushed 2 rows" in result.stdout
    again = sapwood("capture", "--pcap", str(path), "--feed", "packets", "--ports", "7777,53")
    assert again.exit_code == 0  # the same file again: the same batch ids, nothing twice

    tcp, dns = _records(live_server)
    assert (tcp["idx"], tcp["eth_type"], tcp["ip_version"], tcp["ip_ihl"]) == (0, 2048, 4, 5)
    assert (tcp["tcp_sport"], tcp["tcp_dport"], tcp["tcp_seq"]) == (40000, 7777, 1000)
    assert tcp["tcp_fields_options.MSS"] == 1460
    assert tcp["tcp_fields_options.WScale"] == 7
    assert tcp["tcp_fields_options.Timestamp"] == 12345
    assert tcp["tcp_fields_options.SAckOK"] == 1
    assert tcp["udp_sport"] == -1
    assert tcp["arp_op"] == -1
    assert (dns["udp_dport"], dns["dns_default_id"], dns["dns_default_qdcount"]) == (53, 4242, 1)
    assert dns["tcp_dport"] == -1


def test_a_file_that_is_not_a_capture_is_refused(sapwood: Sapwood, tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("not packets")
    result = sapwood("capture", "--pcap", str(path), "--feed", "packets")
    assert result.exit_code != 0
    assert "is not a pcap or pcapng file" in result.output


def _can_capture() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).close()
    except (PermissionError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _can_capture(), reason="live capture needs root or CAP_NET_RAW")
@pytest.mark.usefixtures("feed_applied")
def test_packets_sent_over_loopback_are_captured(sapwood: Sapwood, live_server: LiveServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]

        def send() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                for i in range(40):  # until the capture has started and seen three
                    client.sendto(b"ping %d" % i, ("127.0.0.1", port))
                    time.sleep(0.05)

        sender = threading.Thread(target=send)
        sender.start()
        result = sapwood(
            "capture",
            "--iface",
            "lo",
            "--ports",
            str(port),
            "--feed",
            "packets",
            "--count",
            "3",
            "--duration",
            "10",
            "--label",
            "0",
        )
        sender.join()
    assert result.exit_code == 0, result.output
    assert "pushed 3 rows from interface lo" in result.stdout
    rows = _records(live_server)
    assert len(rows) == 3
    assert all(r["udp_dport"] == port for r in rows)  # each packet once, not twice
    assert all(r["label_value"] == 0 for r in rows)


def test_live_capture_on_a_missing_interface_says_so(sapwood: Sapwood) -> None:
    result = sapwood("capture", "--iface", "no-such-if0", "--feed", "packets")
    assert result.exit_code != 0
    assert "no-such-if0" in result.output or "CAP_NET_RAW" in result.output


@pytest.mark.usefixtures("feed_applied")
def test_rows_written_to_a_csv_can_be_pushed_later(
    sapwood: Sapwood, tmp_path: Path, live_server: LiveServer
) -> None:
    path = _pcap(tmp_path, _tcp_frame(40000, 7777, 1000, syn=True), _udp_dns_frame())
    out = tmp_path / "benign.csv"

    result = sapwood("capture", "--pcap", str(path), "--out", str(out), "--label", "0")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote 2 rows from {path} to {out}\n"
    header, first, _ = out.read_text().splitlines()
    assert header.split(",")[:2] == ["idx", "arp_hwlen"]
    assert header.endswith(",label_value")
    assert first.startswith("0,-1,")  # whole numbers as AntiNex writes them
    assert sapwood("feed", "push", "packets", str(out)).exit_code == 0
    tcp, dns = _records(live_server)
    assert (tcp["tcp_dport"], tcp["label_value"]) == (7777, 0)
    assert dns["udp_dport"] == 53


def test_capture_needs_exactly_one_destination(sapwood: Sapwood, tmp_path: Path) -> None:
    path = _pcap(tmp_path, _udp_dns_frame())

    neither = sapwood("capture", "--pcap", str(path))
    both = sapwood("capture", "--pcap", str(path), "--feed", "x", "--out", str(tmp_path / "o.csv"))

    for result in (neither, both):
        assert result.exit_code != 0
        assert "give exactly one of --feed NAME or --out FILE.csv" in result.output
