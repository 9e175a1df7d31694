"""The feed worker against a real app: it scores with the registry's model, records the
version, follows the alias, and a batch it never acked is scored by the next worker."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sapwood.feeds.scoring import Scorer
from sapwood.feeds.worker import FeedWorker, ModelMissingError, WorkerConfig
from sapwood.schemas.arrow import from_ipc
from sapwood.server.ingest.records import conform
from sapwood.specs import antinex
from sapwood.specs.feeds import antinex_v1
from sapwood.testing.clock import FakeClock
from sapwood.testing.feeds import antinex_rows, feed
from sapwood.testing.onnx_models import mlp_model
from tests.support import Api

pytestmark = pytest.mark.anyio

FEATURES = list(antinex.FEATURES)


def _model(seed: int) -> bytes:
    return mlp_model(features=67, hidden=8, classes=2, seed=seed, feature_names=FEATURES)


async def _drain(api: Api) -> FeedWorker:
    config = WorkerConfig(feed="ids", wait_s=0, resolve_every_s=0, exit_when_idle=True)
    worker = FeedWorker(api.admin, config)
    await worker.run()
    return worker


async def test_the_worker_scores_with_the_version_the_alias_names(api: Api) -> None:
    await api.admin.push_model(_model(1), name="ids", alias="production")
    await api.admin.apply([feed("ids", team="default", batch={"maxRecords": 5})])
    rows = antinex_rows(12)
    await api.admin.push_records("ids", rows)

    worker = await _drain(api)
    assert (worker.batches, worker.records) == (3, 12)
    page = await api.admin.feed_results("ids")
    assert [r.sequence for r in page.items] == list(range(1, 13))
    assert {r.model_version for r in page.items} == {"1"}
    # the stored answers are the model's own
    table = conform(pa.Table.from_pylist(rows), antinex_v1())
    expected = Scorer(_model(1), features=FEATURES, version="1").score(table)
    assert [r.prediction for r in page.items] == expected.column("prediction").to_pylist()
    assert np.allclose([r.score for r in page.items], expected.column("score").to_pylist())

    second = await api.admin.push_model(_model(2), name="ids", alias="production")
    await api.admin.push_records("ids", antinex_rows(3))
    await _drain(api)
    later = await api.admin.feed_results("ids", from_sequence=13)
    assert {r.model_version for r in later.items} == {str(second.version)}


async def test_a_batch_a_dead_worker_held_is_scored_once_by_the_next(
    api: Api, clock: FakeClock
) -> None:
    await api.admin.push_model(_model(1), name="ids", alias="production")
    await api.admin.apply([feed("ids", team="default")])
    await api.admin.push_records("ids", antinex_rows(4))
    held = await api.admin.lease_batch("ids", consumer="dies")  # and never acks
    assert held is not None
    assert from_ipc(held.records).num_rows == 4
    assert (await _drain(api)).batches == 0  # still leased
    clock.advance(61)
    worker = await _drain(api)
    assert worker.records == 4
    page = await api.admin.feed_results("ids")
    assert [r.sequence for r in page.items] == [1, 2, 3, 4]
    assert (await api.admin.feed_figures("ids")).scored == 4


async def test_a_record_with_a_nan_feature_is_not_scored_as_the_negative_class(
    api: Api,
) -> None:
    model = mlp_model(features=2, hidden=4, classes=2, seed=1, feature_names=["a", "b"])
    await api.admin.push_model(model, name="m", alias="production")
    schema = [{"name": "a", "allowNonFinite": True}, {"name": "b"}]
    await api.admin.apply([feed("f", team="default", schema=schema, model="m@production")])
    await api.admin.push_records("f", [{"a": 1.0, "b": 0.5}, {"a": float("nan"), "b": 0.5}])

    config = WorkerConfig(feed="f", wait_s=0, resolve_every_s=0, exit_when_idle=True)
    await FeedWorker(api.admin, config).run()
    page = await api.admin.feed_results("f")
    assert [r.sequence for r in page.items] == [1, 2]
    assert page.items[0].prediction in (0, 1)
    assert (page.items[1].prediction, page.items[1].score) == (None, None)
    negatives = await api.admin.feed_results("f", prediction=0)
    assert 2 not in [r.sequence for r in negatives.items]  # NaN is no class 0


async def test_a_worker_without_its_model_says_so_and_acks_nothing(api: Api) -> None:
    await api.admin.apply([feed("ids", team="default")])
    await api.admin.push_records("ids", antinex_rows(3))
    worker = FeedWorker(api.admin, WorkerConfig(feed="ids", wait_s=0, prefetch=False))
    batch = await api.admin.lease_batch("ids")
    assert batch is not None
    with pytest.raises(ModelMissingError, match="model ids@production cannot be fetched"):
        await worker.finish(batch)
    assert worker.batches == 0
    assert (await api.admin.feed_figures("ids")).backlog == 3  # left to be scored later
