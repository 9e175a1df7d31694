"""Where a post to a channel may go: its host resolved at every post and checked against
the address policy (server/webhook_addresses.py), then pinned, so a second lookup cannot
swap the address (DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sapwood.server.webhook_addresses import (
    AddressPolicy,
    IPAddress,
    literal_address,
    resolved_refusal,
)

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]
"""The addresses a host name resolves to (for a port); OSError when it does not."""


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is what is judged.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


class RefusedAddressError(Exception):
    """The channel's host is, or resolves to, an address channels may not post to."""


@dataclass(frozen=True)
class Destination:
    """Where one post goes: the URL with the host replaced by the address that was checked
    (so a second lookup cannot swap it), and the Host and TLS name of the original."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


async def destination(url: str, policy: AddressPolicy, resolve: Resolve) -> Destination:
    """Where a post to ``url`` goes, after resolving its host now; RefusedAddressError
    when the host is or resolves to an address the policy refuses, OSError when it does
    not resolve. Checked at every post, so a name that resolves elsewhere since the
    channel was set (DNS rebinding) is refused too."""
    parsed = httpx.URL(url)
    host = parsed.host
    if policy.allows_host(host):
        return Destination(parsed, {}, {})
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await resolve(host, port)
        if not addresses:
            raise OSError(f"{host} resolves to no address")
    refusal = resolved_refusal(host, addresses, policy)
    if refusal is not None:
        raise RefusedAddressError(refusal)
    if literal is not None and str(literal) == host:
        return Destination(parsed, {}, {})
    pinned = parsed.copy_with(host=str(addresses[0]))
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return Destination(pinned, {"Host": parsed.netloc.decode("ascii")}, extensions)
