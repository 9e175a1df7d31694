"""The route table and the pure choices made per request: which replica, canary or not."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sapwood.specs.serving import GatewaySpec

REQUEST_KEY_HEADER = "x-sapwood-request-key"


@dataclass(frozen=True)
class Route:
    """Where one Service's requests go; immutable, replaced whole when anything changes."""

    team: str
    service: str
    endpoints: tuple[str, ...] = ()
    canary_endpoints: tuple[str, ...] = ()
    canary_weight: int = 0  # percent of requests
    shadow: bool = False  # mirror the canary share instead of diverting it
    gateway: GatewaySpec = field(default_factory=GatewaySpec)
    # Paused by hand (spec.paused): answered 503 at once. One paused for idleness is not:
    # its requests are held, and a held request wakes it (docs/utilisation.md).
    paused: bool = False


RouteTable = Mapping[tuple[str, str], Route]
"""Routes by (team, service)."""


def paused_message(route: Route) -> str:
    """The 503's words for a service paused by hand: what it is and how to resume it."""
    return (
        f"service {route.service} is paused; resume with "
        f"`sapwood resume service {route.service} --team {route.team}`"
    )


def key_share(key: str) -> float:
    """Where a request key falls in [0, 100): the same key always lands in the same place."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


def to_canary(weight: int, *, key: str | None, draw: float) -> bool:
    """Whether a request goes to (or, in shadow mode, is copied to) the canary.

    ``draw`` is a uniform number in [0, 100), used only when the client sent no key.
    """
    if weight <= 0:
        return False
    if weight >= 100:
        return True
    share = key_share(key) if key is not None else draw
    return share < weight


def least_outstanding(
    endpoints: Sequence[str], outstanding: Mapping[str, int], *, start: int
) -> str:
    """The endpoint with the fewest requests in flight; ties go to the first from ``start``.

    Rotating ``start`` spreads ties evenly instead of always loading the first replica.
    ``endpoints`` must not be empty.
    """
    count = len(endpoints)
    best = endpoints[start % count]
    best_load = outstanding.get(best, 0)
    for offset in range(1, count):
        if best_load == 0:
            break
        candidate = endpoints[(start + offset) % count]
        load = outstanding.get(candidate, 0)
        if load < best_load:
            best, best_load = candidate, load
    return best


def split_path(raw_path: bytes) -> tuple[str, str, bytes] | None:
    """(team, service, rest) from ``/s/{team}/{service}{/rest}``; None for other paths.

    ``rest`` keeps its percent-encoding and always starts with ``/``.
    """
    if not raw_path.startswith(b"/s/"):
        return None
    parts = raw_path[3:].split(b"/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    rest = b"/" + parts[2] if len(parts) == 3 else b"/"
    try:
        return parts[0].decode("ascii"), parts[1].decode("ascii"), rest
    except UnicodeDecodeError:
        return None
