"""Packets to AntiNex-v1 rows: the layer-2..4 fields of one Ethernet frame, -1 when absent.

Pure (bytes in, a dict out), on dpkt. AntiNex's ``*_id`` columns were per-layer record ids
of its capture database and are -1 throughout its cleaned data, so they are -1 here too,
except ``icmp_id`` (the echo identifier) and ``dns_default_id`` (the DNS transaction id).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import dpkt

from sapwood.specs.antinex import ABSENT, FEATURES

Row = dict[str, float]

_TCP_OPTIONS = {
    dpkt.tcp.TCP_OPT_MSS: "tcp_fields_options.MSS",
    dpkt.tcp.TCP_OPT_WSCALE: "tcp_fields_options.WScale",
    dpkt.tcp.TCP_OPT_SACKOK: "tcp_fields_options.SAckOK",
    dpkt.tcp.TCP_OPT_TIMESTAMP: "tcp_fields_options.Timestamp",
}
DNS_PORT = 53


def empty_row(index: int) -> Row:
    row = dict.fromkeys(FEATURES, ABSENT)
    row["idx"] = float(index)
    return row


def frame_row(frame: bytes, index: int) -> Row:
    """One Ethernet frame as an AntiNex-v1 row (no labels)."""
    row = empty_row(index)
    try:
        eth = dpkt.ethernet.Ethernet(frame)
    except (dpkt.UnpackError, struct.error):
        return row
    row["eth_type"] = float(eth.type)
    payload = eth.data
    if isinstance(payload, dpkt.arp.ARP):
        _arp(row, payload)
    elif isinstance(payload, dpkt.ip.IP):
        row.update(ip_ihl=payload.hl, ip_len=payload.len, ip_tos=payload.tos, ip_version=4)
        _transport(row, payload.data)
    elif isinstance(payload, dpkt.ip6.IP6):
        row.update(
            ipv6_fl=payload.flow,
            ipv6_hlim=payload.hlim,
            ipv6_nh=payload.nxt,
            ipv6_plen=payload.plen,
            ipv6_tc=payload.fc,
            ipv6_version=6,
        )
        _transport(row, payload.data)
    return {k: float(v) for k, v in row.items()}


def _arp(row: Row, arp: dpkt.arp.ARP) -> None:
    row.update(
        arp_hwlen=arp.hln, arp_hwtype=arp.hrd, arp_op=arp.op, arp_plen=arp.pln, arp_ptype=arp.pro
    )


def _transport(row: Row, segment: object) -> None:
    if isinstance(segment, dpkt.tcp.TCP):
        row.update(tcp_dport=segment.dport, tcp_sport=segment.sport, tcp_seq=segment.seq)
        _tcp_options(row, segment)
        if DNS_PORT in (segment.sport, segment.dport) and len(segment.data) > 2:
            _dns(row, segment.data[2:], length=struct.unpack("!H", segment.data[:2])[0])
    elif isinstance(segment, dpkt.udp.UDP):
        row.update(udp_dport=segment.dport, udp_sport=segment.sport, udp_len=segment.ulen)
        if DNS_PORT in (segment.sport, segment.dport):
            _dns(row, bytes(segment.data), length=None)
    elif isinstance(segment, dpkt.icmp.ICMP | dpkt.icmp6.ICMP6):
        row.update(icmp_type=segment.type, icmp_code=segment.code)
        echo = segment.data
        if isinstance(echo, dpkt.icmp.ICMP.Echo | dpkt.icmp6.ICMP6.Echo):
            row.update(icmp_id=echo.id, icmp_seq=echo.seq)


def _tcp_options(row: Row, tcp: dpkt.tcp.TCP) -> None:
    try:
        options = dpkt.tcp.parse_opts(tcp.opts)
    except (dpkt.UnpackError, struct.error, ValueError):
        return
    for kind, value in options:
        name = _TCP_OPTIONS.get(kind)
        if name is None:
            continue
        if kind == dpkt.tcp.TCP_OPT_MSS and len(value) == 2:
            row[name] = struct.unpack("!H", value)[0]
        elif kind == dpkt.tcp.TCP_OPT_WSCALE and len(value) == 1:
            row[name] = value[0]
        elif kind == dpkt.tcp.TCP_OPT_TIMESTAMP and len(value) == 8:
            row[name] = struct.unpack("!I", value[:4])[0]
        elif kind == dpkt.tcp.TCP_OPT_SACKOK:
            row[name] = 1


def _dns(row: Row, data: bytes, *, length: int | None) -> None:
    try:
        dns = dpkt.dns.DNS(data)
    except (dpkt.UnpackError, struct.error, IndexError):
        return
    flags = dns.op
    counts = {"qd": len(dns.qd), "an": len(dns.an), "ns": len(dns.ns), "ar": len(dns.ar)}
    row.update(
        dns_default_id=dns.id,
        dns_default_qr=dns.qr,
        dns_default_opcode=dns.opcode,
        dns_default_aa=dns.aa,
        dns_default_tc=(flags >> 9) & 1,
        dns_default_rd=dns.rd,
        dns_default_ra=dns.ra,
        dns_default_z=(flags >> 6) & 1,
        dns_default_ad=(flags >> 5) & 1,
        dns_default_cd=(flags >> 4) & 1,
        dns_default_rcode=dns.rcode,
        dns_default_length=length if length is not None else ABSENT,
        **{f"dns_default_{k}": v for k, v in counts.items()},
        **{f"dns_default_{k}count": v for k, v in counts.items()},
    )


def ports_of(row: Row) -> set[int]:
    return {
        int(row[k]) for k in ("tcp_sport", "tcp_dport", "udp_sport", "udp_dport") if row[k] >= 0
    }


def keep(row: Row, ports: Iterable[int] | None) -> bool:
    """Whether a row passes a port filter (None: every row)."""
    if ports is None:
        return True
    return bool(ports_of(row) & set(ports))


def pcap_rows(
    data: Iterable[tuple[float, bytes]], *, ports: Iterable[int] | None = None
) -> list[Row]:
    """Rows of (timestamp, frame) pairs as read from a pcap, numbered from 0."""
    wanted = set(ports) if ports is not None else None
    out: list[Row] = []
    for _, frame in data:
        row = frame_row(frame, len(out))
        if keep(row, wanted):
            out.append(row)
    return out
