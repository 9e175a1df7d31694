"""A follower's reads of the runtime: a unit's logs, the capacity, the runtime's name.

Server replicas that do not lead run no controller, but the install's Service sends them
half of the requests, `sapwood logs` among them. Where the runtime answers the same from
any replica (Kubernetes: the cluster, through the API server), a follower opens it too and
reads through a `RuntimeReader`, which offers only reads: it never starts, stops, forgets
or observes units (on Kubernetes: no informer starts, logs and capacity read pods,
pods/log and nodes straight from the API server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sapwood.server.runtimes.base import Runtime, UnitKey
from sapwood.server.units import Capacity


class RuntimeReader:
    """The read side of a runtime (satisfies port.ReadPort); its owner closes the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def runtime_name(self) -> str:
        return self._runtime.name

    def logs(
        self, kind: str, team: str, name: str, *, replica: int, follow: bool, previous: bool
    ) -> AsyncIterator[bytes]:
        """One replica's output, straight from the runtime."""
        key = UnitKey(kind, team, name, replica)
        return self._runtime.logs(key, follow=follow, previous=previous)

    async def capacity(self) -> Capacity:
        return await self._runtime.capacity()
