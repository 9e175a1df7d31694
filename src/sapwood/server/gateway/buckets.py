"""Token buckets for rate limits: pure arithmetic over times the caller passes in."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``rate`` tokens a second on average, at most ``capacity`` at once; starts full."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, *, now: float) -> TokenBucket:
        return cls(rate=rate, capacity=capacity, tokens=capacity, updated=now)

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float) -> float:
        """0 when a token was taken; else the seconds until one is due (nothing taken)."""
        self.refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def retry_after_s(wait_s: float) -> int:
    """The ``Retry-After`` value for a wait: whole seconds, at least 1."""
    return max(1, math.ceil(wait_s))


class BucketSet:
    """Buckets by key (a service, a token), each made on first use with the same limits."""

    def __init__(self, rate: float, capacity: float, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.capacity = capacity
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> float:
        """As TokenBucket.take, for the bucket of ``key``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = TokenBucket.full(self.rate, self.capacity, now=now)
        return bucket.take(now)

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as a new one, so it can go.
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()
