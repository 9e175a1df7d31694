"""Admission: which waiting workloads start, where, and whom they preempt. Pure.

``schedule`` is the one entry point; the controller, the tests and the benchmarks call it.
"""

from sapwood.server.controller.plan.scheduler.cycle import schedule
from sapwood.server.controller.plan.scheduler.model import (
    Admit,
    Decisions,
    Node,
    Placed,
    Policy,
    Preempt,
    Quota,
    Resources,
    Role,
    Wait,
    Workload,
)

__all__ = [
    "Admit",
    "Decisions",
    "Node",
    "Placed",
    "Policy",
    "Preempt",
    "Quota",
    "Resources",
    "Role",
    "Wait",
    "Workload",
    "schedule",
]
