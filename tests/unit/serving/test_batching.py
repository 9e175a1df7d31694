from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

import numpy as np
import pytest

from sapwood.serving.batching import MicroBatcher
from sapwood.serving.model import LoadedModel

pytestmark = pytest.mark.anyio


class CountingRun:
    """The model's run, recording the rows of every call; refuses rows holding NaN."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.calls: list[int] = []

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        self.calls.append(len(feeds["features"]))
        if np.isnan(feeds["features"]).any():
            raise ValueError("NaN in features")
        return self.model.run(feeds)


def rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 67)).astype(np.float32)


async def test_concurrent_requests_are_merged_and_each_gets_its_own_rows(
    mlp: LoadedModel,
) -> None:
    run = CountingRun(mlp)
    batcher = MicroBatcher(run, max_batch_size=64, max_wait_s=0.005)
    inputs = [rows(1 + i % 5, seed=i) for i in range(200)]
    try:
        results = await asyncio.gather(*(batcher.submit({"features": x}) for x in inputs))
    finally:
        await batcher.close()
    for x, (probabilities,) in zip(inputs, results, strict=True):
        (alone,) = mlp.run({"features": x})
        assert probabilities.shape == (len(x), 2)
        np.testing.assert_allclose(probabilities, alone, rtol=1e-5, atol=1e-6)
    assert sum(run.calls) == sum(len(x) for x in inputs)
    assert len(run.calls) < 20  # 200 requests, 600 rows: merged, not one call each
    assert max(run.calls) <= 64


async def test_a_request_larger_than_the_batch_limit_runs_alone(mlp: LoadedModel) -> None:
    run = CountingRun(mlp)
    batcher = MicroBatcher(run, max_batch_size=8, max_wait_s=0.001)
    big, small = rows(20, seed=1), rows(3, seed=2)
    try:
        (out_big,), (out_small,) = await asyncio.gather(
            batcher.submit({"features": big}), batcher.submit({"features": small})
        )
    finally:
        await batcher.close()
    assert out_big.shape == (20, 2)
    assert out_small.shape == (3, 2)
    assert sorted(run.calls) == [3, 20]


async def test_one_bad_request_fails_alone(mlp: LoadedModel) -> None:
    run = CountingRun(mlp)
    batcher = MicroBatcher(run, max_batch_size=64, max_wait_s=0.005)
    inputs = [rows(2, seed=i) for i in range(10)]
    inputs[4][1, 7] = np.nan
    try:
        results = await asyncio.gather(
            *(batcher.submit({"features": x}) for x in inputs), return_exceptions=True
        )
    finally:
        await batcher.close()
    assert isinstance(results[4], ValueError)
    assert "NaN" in str(results[4])
    for i, result in enumerate(results):
        if i != 4:
            assert not isinstance(result, BaseException)
            np.testing.assert_allclose(result[0], mlp.run({"features": inputs[i]})[0], rtol=1e-5)


async def test_requests_whose_shapes_do_not_stack_run_in_separate_batches() -> None:
    calls: list[tuple[int, ...]] = []

    def double(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        calls.append(feeds["x"].shape)
        return [feeds["x"] * 2]

    batcher = MicroBatcher(double, max_batch_size=64, max_wait_s=0.005)
    narrow = [np.full((1, 3), i, dtype=np.float32) for i in range(4)]
    wide = [np.full((2, 5), i, dtype=np.float32) for i in range(4)]
    try:
        results = await asyncio.gather(
            *(batcher.submit({"x": x}) for pair in zip(narrow, wide, strict=True) for x in pair)
        )
    finally:
        await batcher.close()
    expected = [x * 2 for pair in zip(narrow, wide, strict=True) for x in pair]
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got[0], want)
    assert sorted(calls) == [(4, 3), (8, 5)]


async def test_outputs_without_a_row_per_input_row_are_computed_per_request() -> None:
    def total(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [np.asarray([feeds["x"].sum()])]

    batcher = MicroBatcher(total, max_batch_size=64, max_wait_s=0.005)
    inputs = [np.full((2, 1), i, dtype=np.float32) for i in range(1, 4)]
    try:
        results = await asyncio.gather(*(batcher.submit({"x": x}) for x in inputs))
    finally:
        await batcher.close()
    assert [float(r[0][0]) for r in results] == [2.0, 4.0, 6.0]


async def test_the_observer_sees_every_call(mlp: LoadedModel) -> None:
    seen: list[tuple[int, int]] = []
    batcher = MicroBatcher(
        mlp.run, max_batch_size=64, max_wait_s=0.005, on_batch=lambda r, n, s: seen.append((r, n))
    )
    try:
        await asyncio.gather(*(batcher.submit({"features": rows(2, seed=i)}) for i in range(6)))
    finally:
        await batcher.close()
    assert sum(r for r, _ in seen) == 12
    assert sum(n for _, n in seen) == 6


async def test_a_closed_batcher_refuses_requests(mlp: LoadedModel) -> None:
    batcher = MicroBatcher(mlp.run)
    await batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit({"features": rows(1, seed=0)})


def test_limits_are_checked(mlp: LoadedModel) -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        MicroBatcher(mlp.run, max_batch_size=0)
    with pytest.raises(ValueError, match="max_wait_s"):
        MicroBatcher(mlp.run, max_wait_s=-1)


async def test_closing_fails_the_requests_still_waiting() -> None:
    release = threading.Event()

    def slow(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        release.wait(10)
        return [feeds["x"]]

    batcher = MicroBatcher(slow, max_batch_size=1, max_wait_s=0)
    running = asyncio.ensure_future(batcher.submit({"x": np.zeros((1, 1))}))
    queued = asyncio.ensure_future(batcher.submit({"x": np.ones((1, 1))}))
    await asyncio.sleep(0.05)
    await batcher.close()
    release.set()
    for request in (running, queued):
        with pytest.raises(RuntimeError, match="stopping"):
            await request
