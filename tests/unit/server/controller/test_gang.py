"""The port block a gang Job's replicas rendezvous on (local runtime)."""

from __future__ import annotations

import socket

from sapwood.server.controller.plan.gang import free_port_block, master_port


def test_a_free_port_block_is_free_from_first_to_last() -> None:
    first = free_port_block(3)
    for port in range(first, first + 3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # raises if it were taken


def test_the_master_port_is_read_from_the_status() -> None:
    assert master_port({"masterPort": 41000}) == 41000
    assert master_port({}) is None
    assert master_port({"masterPort": True}) is None
