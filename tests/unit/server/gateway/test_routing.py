from __future__ import annotations

import random

import pytest

from sapwood.server.gateway.routing import key_share, least_outstanding, split_path, to_canary


@pytest.mark.parametrize("weight", [1, 10, 25, 50, 90])
def test_the_canary_gets_its_weight_of_10000_keys(weight: int) -> None:
    hits = sum(to_canary(weight, key=f"user-{i}", draw=0.0) for i in range(10_000))
    assert hits / 10_000 * 100 == pytest.approx(weight, abs=1.5)


def test_random_split_without_keys_follows_the_weight() -> None:
    rng = random.Random(7)
    hits = sum(to_canary(20, key=None, draw=rng.random() * 100) for _ in range(10_000))
    assert hits / 100 == pytest.approx(20, abs=1.5)


def test_a_request_key_always_goes_the_same_way() -> None:
    for i in range(200):
        key = f"session-{i}"
        first = to_canary(30, key=key, draw=0.0)
        assert all(to_canary(30, key=key, draw=d) == first for d in (0.0, 50.0, 99.9))


def test_a_key_on_the_canary_stays_there_as_the_weight_grows() -> None:
    keys = [f"k{i}" for i in range(1000)]
    at_10 = {k for k in keys if to_canary(10, key=k, draw=0.0)}
    at_50 = {k for k in keys if to_canary(50, key=k, draw=0.0)}
    assert at_10 <= at_50


def test_weights_0_and_100_are_absolute() -> None:
    assert not any(to_canary(0, key=f"k{i}", draw=0.0) for i in range(100))
    assert all(to_canary(100, key=f"k{i}", draw=99.9) for i in range(100))


def test_key_share_is_within_range() -> None:
    assert all(0 <= key_share(str(i)) < 100 for i in range(1000))


def test_least_outstanding_picks_the_idlest_replica() -> None:
    endpoints = ["a:1", "b:2", "c:3"]
    assert least_outstanding(endpoints, {"a:1": 4, "b:2": 1, "c:3": 2}, start=0) == "b:2"
    assert least_outstanding(endpoints, {"a:1": 4, "b:2": 1, "c:3": 0}, start=0) == "c:3"


def test_least_outstanding_spreads_ties_by_start() -> None:
    endpoints = ["a:1", "b:2", "c:3"]
    picks = {least_outstanding(endpoints, {}, start=turn) for turn in range(3)}
    assert picks == set(endpoints)


def test_least_outstanding_spreads_load_when_requests_pile_up() -> None:
    endpoints = ["a:1", "b:2", "c:3", "d:4"]
    outstanding: dict[str, int] = {}
    for turn in range(40):
        chosen = least_outstanding(endpoints, outstanding, start=turn)
        outstanding[chosen] = outstanding.get(chosen, 0) + 1
    assert set(outstanding.values()) == {10}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"/s/research/echo/v1/predict", ("research", "echo", b"/v1/predict")),
        (b"/s/research/echo/", ("research", "echo", b"/")),
        (b"/s/research/echo", ("research", "echo", b"/")),
        (b"/s/research/echo/a%2Fb", ("research", "echo", b"/a%2Fb")),
        (b"/s/research", None),
        (b"/s//echo/", None),
        (b"/other", None),
    ],
)
def test_split_path(path: bytes, expected: tuple[str, str, bytes] | None) -> None:
    assert split_path(path) == expected
