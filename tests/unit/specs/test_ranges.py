"""Range patterns state exactly the integers between their bounds."""

from __future__ import annotations

import re

import pytest

from sapwood.specs.ranges import integers


@pytest.mark.parametrize(
    ("low", "high"),
    [(0, 0), (0, 9), (0, 10), (1, 365), (0, 4096), (7, 7), (5, 5000), (60, 10080), (19, 2001)],
)
def test_integers_matches_exactly_the_range(low: int, high: int) -> None:
    pattern = re.compile(integers(low, high))
    for n in range(high * 2 + 20):
        assert bool(pattern.fullmatch(str(n))) == (low <= n <= high), n
    assert not pattern.fullmatch(f"0{max(low, 1)}")  # no leading zeros
    assert not pattern.fullmatch("")


@pytest.mark.parametrize("high", [604_800_000, 31_536_000_000, 64 * 1024**4])
def test_integers_holds_at_the_edges_of_large_ranges(high: int) -> None:
    pattern = re.compile(integers(1, high))
    for n, inside in [(1, True), (high, True), (high + 1, False), (0, False), (high // 7, True)]:
        assert bool(pattern.fullmatch(str(n))) == inside, n
    assert not pattern.fullmatch(str(high * 10))


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="no integers from 5 to 4"):
        integers(5, 4)
