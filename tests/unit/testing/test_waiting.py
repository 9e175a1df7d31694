"""eventually: the first result the test accepts, or a failure that says what it last saw."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from sapwood.testing.waiting import eventually, eventually_sync

pytestmark = pytest.mark.anyio


def counter() -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n


async def test_returns_the_first_result_that_is_accepted() -> None:
    count = counter()

    async def probe() -> int:
        return next(count)

    assert await eventually(probe, lambda n: n >= 3, interval_s=0) == 3


async def test_without_a_condition_the_first_truthy_result() -> None:
    results = iter([None, [], ["pod"]])

    async def probe() -> list[str] | None:
        return next(results)

    assert await eventually(probe, interval_s=0) == ["pod"]


async def test_a_timeout_names_what_was_awaited_and_the_last_result() -> None:
    async def probe() -> str:
        return "Pending"

    with pytest.raises(AssertionError, match="the job to run; last seen: 'Pending'"):
        await eventually(probe, lambda p: p == "Running", timeout_s=0, what="the job to run")


async def test_a_probe_that_never_answers_fails_the_wait() -> None:
    async def probe() -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with pytest.raises(AssertionError, match="the probe did not answer"):
        await eventually(probe, timeout_s=0.01)


def test_the_blocking_variant_behaves_the_same() -> None:
    count = counter()
    assert eventually_sync(lambda: next(count), lambda n: n == 2, interval_s=0) == 2
    with pytest.raises(AssertionError, match="two; last seen: 1"):
        eventually_sync(lambda: 1, lambda n: n == 2, timeout_s=0, what="two")
