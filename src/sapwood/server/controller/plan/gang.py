"""What the replicas of a gang Job (``replicas > 1``) need to find each other.

Every replica gets torchrun's variables, so ``torch.distributed.init_process_group()``
with the default ``env://`` works unchanged: ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``, plus ``SAPWOOD_PEERS``, every
replica's ``host:port`` in rank order (rank 0's is ``MASTER_ADDR:MASTER_PORT``).

On the local runtime every replica shares the host's network: ``MASTER_ADDR`` is
127.0.0.1 and the run holds a block of ``replicas`` loopback ports, free when the run
started, from ``MASTER_PORT`` up (rank ``i`` may listen on ``MASTER_PORT + i``; rank 0's is
taken by torch's store). The block is kept in ``status.masterPort`` for the whole run.
On Kubernetes each pod has its own network, so the port is torch's default 29500; the
runtime runs each replica as a pod of its own, with no stable name for rank 0 to be
reached at, so ``MASTER_ADDR`` and ``SAPWOOD_PEERS`` are left out there (docs/specs.md).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

DEFAULT_MASTER_PORT = 29500  # torch.distributed's own default
LOOPBACK = "127.0.0.1"


def gang_env(replicas: int, replica: int, *, master_port: int, shared_host: bool) -> dict[str, str]:
    """torchrun's variables for one replica of a gang of ``replicas``.

    ``shared_host``: every replica runs on this machine (the local runtime); otherwise
    each runs on a host of its own whose address is not known in advance (Kubernetes).
    """
    env = {
        "WORLD_SIZE": str(replicas),
        "RANK": str(replica),
        "MASTER_PORT": str(master_port),
    }
    if shared_host:
        peers = ",".join(f"{LOOPBACK}:{master_port + rank}" for rank in range(replicas))
        env.update(
            LOCAL_RANK=str(replica),
            LOCAL_WORLD_SIZE=str(replicas),
            MASTER_ADDR=LOOPBACK,
            SAPWOOD_PEERS=peers,
        )
    else:
        env.update(LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    return env


def master_port(status: Mapping[str, object]) -> int | None:
    """The run's port block, once the run has one."""
    value = status.get("masterPort")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def free_port_block(count: int, *, attempts: int = 50) -> int:
    """The first of ``count`` consecutive loopback ports free right now.

    Another program may still take one before the replicas bind (the usual race of
    probing ports); a replica that cannot bind fails and is retried like any failure.
    Raises OSError when no block is found.
    """
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            first = int(probe.getsockname()[1])
        if first + count <= 65536 and all(_free(first + i) for i in range(1, count)):
            return first
    raise OSError(f"no block of {count} free loopback ports found")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True
