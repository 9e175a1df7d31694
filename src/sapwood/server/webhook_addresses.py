"""Where notification channels may post: public addresses only, unless an admin allowed more.

Pure decisions, used twice: when a channel is set (its URL's host, if it is an address or a
``localhost`` name) and when a notification is posted (every address the host resolves
to, so a name that resolves elsewhere later, DNS rebinding, is caught too). The admin's
allowances come from ``SAPWOOD_WEBHOOK_ALLOW``: CIDRs (``10.0.0.0/8``), addresses
(``127.0.0.1``) and host names (``hooks.internal.example``, allowed whatever they resolve to).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOW_SETTING = "SAPWOOD_WEBHOOK_ALLOW"
ONLY_PUBLIC = f": channels may post to public addresses only, unless {ALLOW_SETTING} allows it"
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class AddressPolicy:
    """What an admin allowed beyond public addresses; the default allows nothing more."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AddressPolicy:
        """From CIDRs, addresses and host names; ValueError naming a malformed entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not all(_LABEL.fullmatch(label) for label in entry.rstrip(".").split(".")):
                raise ValueError(
                    f"{ALLOW_SETTING}: {raw!r} is neither a CIDR (10.0.0.0/8), an address "
                    "nor a host name"
                )
            hosts.add(entry.rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts


def _kind(address: IPAddress) -> str | None:
    """What makes an address non-public, or None for a public one."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


def refused_kind(address: IPAddress, policy: AddressPolicy) -> str | None:
    """What makes ``address`` one a channel may not post to ("loopback", "private", …);
    None when it may: a public address, or one the policy allows."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in policy.networks):
        return None
    return _kind(address)


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one stands for (also the old forms ``2130706433``
    and ``127.1`` that resolvers accept); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def url_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why a channel may not have ``url``, as far as can be told without resolving names;
    None when it may (names are checked again at each post, after resolving)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host or policy.allows_host(host):
        return None
    address = literal_address(host)
    if address is not None:
        kind = refused_kind(address, policy)
        return None if kind is None else f"{host} is {_a(kind)} address{ONLY_PUBLIC}"
    loopback = host == "localhost" or host.endswith(".localhost")
    if loopback and refused_kind(ipaddress.IPv4Address("127.0.0.1"), policy) is not None:
        return f"{host} names a loopback address{ONLY_PUBLIC}"
    return None


def resolved_refusal(
    host: str, addresses: Iterable[IPAddress], policy: AddressPolicy
) -> str | None:
    """Why a post to ``host``, which resolved to ``addresses``, is refused; None when every
    address is allowed (any one refused refuses the post: the connection could use it)."""
    if policy.allows_host(host):
        return None
    for address in addresses:
        kind = refused_kind(address, policy)
        if kind is not None:
            return f"{host} resolves to {address}, {_a(kind)} address{ONLY_PUBLIC}"
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind
