"""Restart delays: exponential from `initial` to `max`, reset after a healthy stretch."""

from __future__ import annotations

from datetime import timedelta

from sapwood.specs.probes import Backoff

# A replica that ran this long since its last start has its backoff forgotten.
HEALTHY_RESET = timedelta(minutes=10)


def restart_delay(failures: int, policy: Backoff) -> timedelta:
    """Delay before the restart that follows failure number ``failures`` (from 1)."""
    if failures <= 0:
        return timedelta(0)
    exponent = min(failures - 1, 20)  # 2**20 times any initial delay already exceeds any max
    delay: timedelta = min(policy.initial * (2**exponent), policy.max)
    return delay
