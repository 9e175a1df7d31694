"""Feeds through the SDK on a real store: ingest, validation, idempotency, lease and ack,
results, exports and figures."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sapwood.client import SapwoodError
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.schemas.feeds import ARROW_STREAM, CSV, PARQUET
from sapwood.testing.clock import FakeClock
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.support import Api

pytestmark = pytest.mark.anyio

DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "antinex"
DJANGO = DATA / "v1_django_cleaned_attack.csv"


async def _feed(api: Api, name: str = "ids", **spec: object) -> None:
    await api.admin.apply([feed(name, team="default", **spec)])


async def _score_all(api: Api, name: str = "ids", version: str = "1") -> int:
    scored = 0
    while (batch := await api.admin.lease_batch(name)) is not None:
        results = threshold_scores(from_ipc(batch.records))
        ack = await api.admin.ack_batch(
            name, batch.lease_id, to_ipc(results), model_version=version
        )
        scored += ack.count
    return scored


async def test_a_feed_is_an_object_like_the_others(api: Api) -> None:
    await _feed(api, labelColumn="label_value")
    got = await api.admin.get("feed", "ids")
    assert got.kind == "Feed"
    assert got.spec["schema"] == "antinex-v1"
    assert [o.metadata.name for o in await api.admin.list("feeds")] == ["ids"]


async def test_rows_get_consecutive_sequence_numbers(api: Api) -> None:
    await _feed(api)
    first = await api.admin.push_records("ids", antinex_rows(5))
    second = await api.admin.push_records("ids", antinex_rows(3))
    assert (first.accepted, first.first_sequence, first.last_sequence) == (5, 1, 5)
    assert (second.first_sequence, second.last_sequence) == (6, 8)


async def test_a_malformed_row_rejects_the_whole_request_and_stores_nothing(api: Api) -> None:
    await _feed(api)
    rows = antinex_rows(10)
    rows[7]["ip_len"] = "forty"
    with pytest.raises(SapwoodError) as caught:
        await api.admin.push_records("ids", rows)
    error = caught.value
    assert error.status == 422
    assert "row 7" in error.message
    assert "ip_len" in error.message
    assert any(d.path == "rows[7].ip_len" for d in error.details)
    ok = await api.admin.push_records("ids", antinex_rows(2))
    assert ok.first_sequence == 1  # nothing of the rejected request was kept
    assert (await api.admin.feed_figures("ids")).records == 2


async def test_csv_errors_name_the_data_row(api: Api) -> None:
    await _feed(api)
    body = b"idx,ip_len\n0,40\n1,41\n2,oops\n"
    with pytest.raises(SapwoodError) as caught:
        await api.admin.push_records("ids", body, content_type=CSV)
    assert "row 2" in caught.value.message
    assert "ip_len" in caught.value.message


async def test_unknown_and_missing_columns_are_named(api: Api) -> None:
    await _feed(api, schema=[{"name": "x", "dtype": "float64"}, {"name": "y", "dtype": "int64"}])
    with pytest.raises(SapwoodError, match="unknown column 'z'"):
        await api.admin.push_records("ids", [{"x": 1, "y": 2, "z": 3}])
    with pytest.raises(SapwoodError, match="missing column 'y'"):
        await api.admin.push_records("ids", [{"x": 1}])
    with pytest.raises(SapwoodError, match="row 1: column 'y' must be an integer"):
        await api.admin.push_records("ids", [{"x": 1, "y": 2}, {"x": 1, "y": 2.5}])


async def test_a_retried_post_answers_the_same_and_stores_nothing_twice(api: Api) -> None:
    await _feed(api, batch={"maxRecords": 4})
    rows = antinex_rows(10)
    first = await api.admin.push_records("ids", rows, batch_id="capture-0001")
    again = await api.admin.push_records("ids", rows, batch_id="capture-0001")
    assert not first.replayed
    assert again.replayed
    assert again.message == "batch capture-0001 was already pushed: nothing stored"
    numbers = (again.accepted, again.first_sequence, again.last_sequence, again.batch_id)
    assert numbers == (first.accepted, first.first_sequence, first.last_sequence, "capture-0001")
    assert (first.accepted, first.first_sequence, first.last_sequence) == (10, 1, 10)
    async with api.http(api.admin_token) as http:
        body = {"rows": rows, "batchId": "capture-0002"}
        url = "/api/v1/feeds/ids/records?team=default"
        stored = await http.post(url, json=body)
        response = await http.post(url, json=body)
    assert "Sapwood-Replayed" not in stored.headers
    assert response.headers["Sapwood-Replayed"] == "true"
    assert response.json()["firstSequence"] == 11
    assert response.json()["message"] == "batch capture-0002 was already pushed: nothing stored"
    assert (await api.admin.feed_figures("ids")).records == 20


async def test_a_batch_id_reused_with_other_records_is_refused(api: Api) -> None:
    await _feed(api, batch={"maxRecords": 4})
    await api.admin.push_records("ids", antinex_rows(10), batch_id="capture-0001")
    with pytest.raises(SapwoodError) as caught:
        await api.admin.push_records("ids", antinex_rows(10, seed=1), batch_id="capture-0001")
    assert caught.value.status == 422
    assert "batch id capture-0001 was already pushed with different records" in str(caught.value)
    # the same records in another format are another body too
    table = pa.Table.from_pylist(antinex_rows(10))
    with pytest.raises(SapwoodError, match="already pushed with different records"):
        await api.admin.push_records(
            "ids", to_ipc(table), content_type=ARROW_STREAM, batch_id="capture-0001"
        )
    assert (await api.admin.feed_figures("ids")).records == 10  # nothing more was stored


def _without(rows: list[dict[str, object]], *names: str) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k not in names} for row in rows]


async def test_records_lacking_feature_columns_are_refused_naming_them(api: Api) -> None:
    await _feed(api)
    rows = _without(antinex_rows(3), "tcp_dport", "ip_len")
    with pytest.raises(SapwoodError) as caught:
        await api.admin.push_records("ids", rows)
    error = caught.value
    assert error.status == 422
    assert "the records lack 2 of the feed's 67 feature columns: ip_len, tcp_dport" in str(error)
    assert "fillMissing" in (error.hint or "")
    assert {d.path for d in error.details} == {"columns.ip_len", "columns.tcp_dport"}
    assert (await api.admin.feed_figures("ids")).records == 0

    filled = await api.admin.push_records("ids", rows, fill_missing=True)
    assert filled.accepted == 3
    assert filled.filled == ["ip_len", "tcp_dport"]
    assert filled.message == (
        "filled 2 missing column(s) with the schema's values: ip_len, tcp_dport"
    )
    complete = await api.admin.push_records("ids", antinex_rows(2))
    assert complete.filled == []
    assert complete.message is None


async def test_a_feed_may_opt_in_to_filling_absent_columns(api: Api) -> None:
    await _feed(api, ingest={"fillMissing": True})
    answer = await api.admin.push_records("ids", _without(antinex_rows(2), "ip_len"))
    assert answer.filled == ["ip_len"]


async def test_arrow_and_parquet_bodies(api: Api) -> None:
    await _feed(api)
    table = pa.Table.from_pylist(antinex_rows(6))
    arrow = await api.admin.push_records("ids", to_ipc(table), content_type=ARROW_STREAM)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    parquet = await api.admin.push_records("ids", sink.getvalue(), content_type=PARQUET)
    assert (arrow.accepted, parquet.first_sequence, parquet.last_sequence) == (6, 7, 12)


@pytest.mark.skipif(not DJANGO.exists(), reason=f"AntiNex data not found at {DATA}")
async def test_the_antinex_csv_goes_in_as_it_is_once_filling_is_asked_for(api: Api) -> None:
    await _feed(api, labelColumn="label_value", batch={"maxRecords": 2000})
    # The cleaned captures carry 23 of the 67 features: the rest must not become -1 unasked.
    with pytest.raises(SapwoodError, match="the records lack 44 of the feed's 67 feature"):
        await api.admin.push_records("ids", DJANGO.read_bytes(), content_type=CSV)
    response = await api.admin.push_records(
        "ids", DJANGO.read_bytes(), content_type=CSV, fill_missing=True
    )
    assert (response.accepted, response.last_sequence) == (9000, 9000)
    assert "arp_op" in response.filled
    assert await _score_all(api) == 9000
    figures = await api.admin.feed_figures("ids")
    assert figures.backlog == 0
    assert figures.scored == 9000
    assert figures.accuracy is not None  # every row is labelled an attack


async def test_results_are_stored_once_and_read_back_filtered_and_paged(
    api: Api, clock: FakeClock
) -> None:
    await _feed(api, labelColumn="label_value", batch={"maxRecords": 4})
    await api.admin.push_records("ids", antinex_rows(12))
    clock.advance(2)
    assert await _score_all(api) == 12

    page = await api.admin.feed_results("ids", limit=5)
    assert [r.sequence for r in page.items] == [1, 2, 3, 4, 5]
    assert page.items[0].model_version == "1"
    assert page.items[0].scored_at - page.items[0].ingested_at == timedelta(seconds=2)
    rest = await api.admin.feed_results("ids", limit=100, continue_=page.continue_)
    assert [r.sequence for r in rest.items] == list(range(6, 13))
    assert rest.continue_ is None

    attacks = await api.admin.feed_results("ids", prediction=1)
    assert [r.sequence for r in attacks.items] == [1, 4, 7, 10]
    assert all(r.label == 1.0 for r in attacks.items)
    window = await api.admin.feed_results("ids", from_sequence=3, to_sequence=6)
    assert [r.sequence for r in window.items] == [3, 4, 5, 6]

    figures = await api.admin.feed_figures("ids")
    assert (figures.records, figures.scored, figures.backlog) == (12, 12, 0)
    assert figures.flagged_share == pytest.approx(4 / 12)
    assert figures.accuracy == 1.0
    assert figures.precision == 1.0
    assert figures.recall == 1.0
    assert figures.latency_p50_s == pytest.approx(2.0)


async def test_exports_as_csv_and_parquet(api: Api) -> None:
    await _feed(api)
    await api.admin.push_records("ids", antinex_rows(5))
    await _score_all(api)
    text = (await api.admin.export_feed_results("ids", format="csv")).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["sequence"]) for r in rows] == [1, 2, 3, 4, 5]
    assert {"prediction", "score", "probability_0", "probability_1", "model_version"} <= set(
        rows[0]
    )
    table = pq.read_table(io.BytesIO(await api.admin.export_feed_results("ids", format="parquet")))
    assert table.column("sequence").to_pylist() == [1, 2, 3, 4, 5]


async def test_an_unacknowledged_batch_comes_back_after_the_visibility_timeout(
    api: Api, clock: FakeClock
) -> None:
    await _feed(api)
    await api.admin.push_records("ids", antinex_rows(3))
    first = await api.admin.lease_batch("ids", consumer="a")
    assert first is not None
    assert first.attempt == 1
    assert await api.admin.lease_batch("ids", consumer="b") is None  # still held by a
    clock.advance(61)
    second = await api.admin.lease_batch("ids", consumer="b")
    assert second is not None
    assert second.attempt == 2
    assert second.first_sequence == first.first_sequence
    results = to_ipc(threshold_scores(from_ipc(second.records)))
    assert (await api.admin.ack_batch("ids", second.lease_id, results, model_version="2")).stored
    late = await api.admin.ack_batch("ids", first.lease_id, results, model_version="1")
    assert not late.stored  # the slow worker's answer is not stored a second time
    page = await api.admin.feed_results("ids")
    assert [r.sequence for r in page.items] == [1, 2, 3]
    assert {r.model_version for r in page.items} == {"2"}
    assert await api.admin.lease_batch("ids") is None


async def test_results_with_the_wrong_row_count_are_refused(api: Api) -> None:
    await _feed(api)
    await api.admin.push_records("ids", antinex_rows(3))
    batch = await api.admin.lease_batch("ids")
    assert batch is not None
    short = to_ipc(threshold_scores(from_ipc(batch.records)).slice(0, 2))
    with pytest.raises(SapwoodError, match="3 records; got 2 results"):
        await api.admin.ack_batch("ids", batch.lease_id, short, model_version="1")


async def test_feed_figures_are_on_the_metrics_page(api: Api) -> None:
    await _feed(api)
    await api.admin.push_records("ids", antinex_rows(6))
    await _score_all(api)
    await api.admin.push_records("ids", antinex_rows(2))
    async with api.http(api.admin_token) as http:
        text = (await http.get("/metrics")).text
    assert 'sapwood_feed_backlog_records{name="ids",team="default"} 2.0' in text
    assert 'sapwood_feed_scored_records_total{name="ids",team="default"} 6.0' in text
    assert 'sapwood_feed_flagged_ratio{name="ids",team="default"}' in text
    figures = await api.admin.feed_figures("ids")
    assert (figures.records, figures.scored, figures.backlog) == (8, 6, 2)
    # the ingest rate counts records scored since and records still waiting alike
    assert figures.ingest_rate == pytest.approx(8 / figures.window_s)


async def test_results_older_than_the_retention_are_dropped(api: Api, clock: FakeClock) -> None:
    await _feed(api, batch={"maxRecords": 1}, results={"retention": "1h"})
    await api.admin.push_records("ids", antinex_rows(70))
    for _ in range(10):
        batch = await api.admin.lease_batch("ids")
        assert batch is not None
        answers = to_ipc(threshold_scores(from_ipc(batch.records)))
        await api.admin.ack_batch("ids", batch.lease_id, answers, model_version="1")
    clock.advance(timedelta(hours=2))
    await _score_all(api)  # the sweep runs every few dozen batches
    page = await api.admin.feed_results("ids", limit=1)
    assert page.items[0].sequence == 11
    # the finished batches went with them: only those acked after the sweep (65..70) stay
    assert (await api.admin.feed_figures("ids")).records == 6
