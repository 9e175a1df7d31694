"""Frames to AntiNex-v1 rows: the fields of each layer, -1 for what a packet lacks."""

from __future__ import annotations

import dpkt

from sapwood.feeds.packets import frame_row, keep, pcap_rows
from sapwood.specs.antinex import FEATURES


def _arp() -> bytes:
    arp = dpkt.arp.ARP(op=dpkt.arp.ARP_OP_REQUEST)
    return bytes(dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_ARP, data=arp))


def _icmp_echo() -> bytes:
    echo = dpkt.icmp.ICMP.Echo(id=77, seq=3, data=b"hi")
    icmp = dpkt.icmp.ICMP(type=dpkt.icmp.ICMP_ECHO, data=echo)
    ip = dpkt.ip.IP(p=dpkt.ip.IP_PROTO_ICMP, data=icmp)
    ip.len = 20 + len(bytes(icmp))
    return bytes(dpkt.ethernet.Ethernet(type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def test_every_row_has_every_feature() -> None:
    row = frame_row(_arp(), 5)
    assert set(row) == set(FEATURES)
    assert row["idx"] == 5
    assert row["arp_op"] == 1
    assert row["eth_type"] == 0x0806
    assert row["ip_len"] == -1


def test_icmp_echo_fields() -> None:
    row = frame_row(_icmp_echo(), 0)
    assert (row["icmp_type"], row["icmp_id"], row["icmp_seq"], row["ip_version"]) == (8, 77, 3, 4)
    assert row["tcp_dport"] == -1


def test_garbage_is_a_row_of_absent_fields() -> None:
    row = frame_row(b"\x00\x01", 0)
    assert all(v == -1 for k, v in row.items() if k != "idx")


def test_port_filter_and_numbering() -> None:
    rows = pcap_rows([(0.0, _arp()), (1.0, _icmp_echo())])
    assert [r["idx"] for r in rows] == [0, 1]
    assert keep(rows[0], None)
    assert not keep(rows[0], {80})
