from __future__ import annotations

import pytest

from sapwood.server.gateway.buckets import BucketSet, TokenBucket, retry_after_s


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket.full(rate=2, capacity=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(0.0) == pytest.approx(0.5)


def test_tokens_come_back_at_the_rate_and_never_past_capacity() -> None:
    bucket = TokenBucket.full(rate=2, capacity=3, now=0.0)
    for _ in range(3):
        bucket.take(0.0)
    assert bucket.take(0.5) == 0  # one token after half a second
    assert bucket.take(0.5) > 0
    bucket.refill(100.0)
    assert bucket.tokens == 3


def test_a_refused_request_takes_nothing() -> None:
    bucket = TokenBucket.full(rate=1, capacity=1, now=0.0)
    bucket.take(0.0)
    for _ in range(10):
        assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0


def test_the_average_rate_holds_over_a_long_run() -> None:
    bucket = TokenBucket.full(rate=10, capacity=5, now=0.0)
    allowed = sum(1 for step in range(10_000) if bucket.take(step * 0.001) == 0)
    assert allowed == pytest.approx(5 + 10 * 10, abs=1)


@pytest.mark.parametrize(("wait", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (30.0, 30)])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: int) -> None:
    assert retry_after_s(wait) == header


def test_each_key_has_its_own_bucket() -> None:
    buckets = BucketSet(rate=1, capacity=1)
    assert buckets.take("a", 0.0) == 0
    assert buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0


def test_a_full_set_forgets_refilled_buckets_first() -> None:
    buckets = BucketSet(rate=1, capacity=1, max_keys=2)
    buckets.take("a", 0.0)
    buckets.take("b", 5.0)
    buckets.take("c", 5.0)  # "a" has refilled by now, so it goes; "b" stays empty
    assert buckets.take("b", 5.0) > 0
