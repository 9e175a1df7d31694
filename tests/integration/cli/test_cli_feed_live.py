"""`sapwood feed push|tail|results` and `describe feed` against a live server."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from sapwood.cli.main import app
from sapwood.client import Client
from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.testing.feeds import antinex_rows, threshold_scores
from sapwood.testing.servers import LiveServer, live_server
from tests.integration.cli.conftest import Sapwood
from tests.integration.feeds.stored import INF, NAN, raw_results, store_results

FEED_YAML = (
    "apiVersion: sapwood/v1\n"
    "kind: Feed\n"
    "metadata: {name: ids}\n"
    "spec:\n"
    "  schema: antinex-v1\n"
    "  model: ids@production\n"
    "  labelColumn: label_value\n"
    "  workers: {min: 0, max: 0}\n"
)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def feed_applied(sapwood: Sapwood, specs: Path) -> None:
    (specs / "feed.yaml").write_text(FEED_YAML)
    result = sapwood("apply", "-f", str(specs / "feed.yaml"))
    assert result.exit_code == 0, result.output


def _score(server: LiveServer) -> None:
    with Client(server.url, token=server.admin_token) as client:
        while (batch := client.lease_batch("ids")) is not None:
            answers = to_ipc(threshold_scores(from_ipc(batch.records)))
            client.ack_batch("ids", batch.lease_id, answers, model_version="1")


@pytest.mark.usefixtures("feed_applied")
def test_push_is_safe_to_repeat_and_tail_shows_results(
    sapwood: Sapwood, tmp_path: Path, live_server: LiveServer
) -> None:
    data = _write_csv(tmp_path / "rows.csv", antinex_rows(10))
    first = sapwood("feed", "push", "ids", str(data), "--chunk-records", "4")
    assert first.exit_code == 0, first.output
    assert "pushed 10 records to feed/ids (sequences 1..10)" in first.stdout
    again = sapwood("feed", "push", "ids", str(data), "--chunk-records", "4")
    assert again.exit_code == 0, again.output
    # the same batch ids and bodies: nothing stored twice, and it says so
    assert again.stdout.strip() == (
        "already pushed: nothing stored (feed/ids has these 10 records as sequences 1..10)"
    )

    _score(live_server)
    tail = sapwood("feed", "tail", "ids", "--no-follow", "-n", "3")
    assert tail.exit_code == 0, tail.output
    lines = tail.stdout.splitlines()
    assert lines[0].split()[:2] == ["SEQUENCE", "PREDICTION"]
    assert [int(line.split()[0]) for line in lines[1:]] == [8, 9, 10]

    described = sapwood("describe", "feed", "ids")
    assert described.exit_code == 0, described.output
    assert "Figures (last 5m):" in described.stdout
    assert "10 ingested, 10 scored, 0 waiting" in described.stdout

    listed = sapwood("get", "feeds").stdout.splitlines()
    assert listed[0].split() == ["NAME", "TEAM", "PHASE", "MODEL", "WORKERS", "BACKLOG", "AGE"]
    assert listed[1].split()[3] == "ids@production"

    exported = sapwood("feed", "results", "ids")
    assert exported.stdout.splitlines()[0].startswith('"sequence","prediction"')
    assert len(exported.stdout.splitlines()) == 11


@pytest.mark.slow
def test_describe_says_the_feeds_model_does_not_exist(tmp_path: Path, specs: Path) -> None:
    (specs / "feed.yaml").write_text(FEED_YAML)  # workers 0..0: no process to outlive it
    with live_server(tmp_path / "controlled", controller=True) as server:
        env = {
            "SAPWOOD_URL": server.url,
            "SAPWOOD_TOKEN": server.admin_token,
            "SAPWOOD_CONFIG": str(tmp_path / "controlled.yaml"),
        }

        def sapwood(*args: str) -> Result:
            return CliRunner().invoke(app, list(args), env=env)

        assert sapwood("apply", "-f", str(specs / "feed.yaml")).exit_code == 0
        text = ""
        for _ in range(150):  # a few controller passes: admitted, then planned
            text = sapwood("describe", "feed", "ids").stdout
            if "Degraded" in text:
                break
            time.sleep(0.2)
        listed = sapwood("get", "feeds").stdout.splitlines()
    assert re.search(r"\n  Phase: +Degraded\n", text), text
    assert re.search(r"\n  Reason: +ModelNotFound\n", text)
    assert "ids@production does not exist in team default" in text
    events = text.split("Events:")[1]
    assert "Warning" in events
    assert "ModelNotFound" in events
    assert listed[1].split()[2] == "Degraded"


@pytest.mark.usefixtures("feed_applied")
def test_a_bad_value_names_the_file_rows_and_stores_nothing_of_its_chunk(
    sapwood: Sapwood, tmp_path: Path
) -> None:
    rows = antinex_rows(8)
    rows[5]["ip_len"] = "huge"
    data = _write_csv(tmp_path / "bad.csv", rows)
    result = sapwood("feed", "push", "ids", str(data), "--chunk-records", "4")
    assert result.exit_code != 0
    assert "records 4..7 of the file" in result.output
    assert "row 1" in result.output
    assert "ip_len" in result.output


@pytest.mark.usefixtures("feed_applied")
def test_a_file_lacking_feature_columns_is_refused_unless_filling_is_asked_for(
    sapwood: Sapwood, tmp_path: Path
) -> None:
    rows = [
        {k: v for k, v in row.items() if k not in ("ip_len", "tcp_dport")}
        for row in antinex_rows(6)
    ]
    data = _write_csv(tmp_path / "partial.csv", rows)
    refused = sapwood("feed", "push", "ids", str(data))
    assert refused.exit_code != 0
    assert "the records lack 2 of the feed's 67 feature columns: ip_len, tcp_dport" in (
        refused.output
    )
    assert "--fill-missing" in refused.output

    filled = sapwood("feed", "push", "ids", str(data), "--fill-missing")
    assert filled.exit_code == 0, filled.output
    assert "pushed 6 records to feed/ids (sequences 1..6)" in filled.stdout
    assert "filled 2 missing column(s) with the schema's values: ip_len, tcp_dport" in (
        filled.stdout
    )


@pytest.mark.usefixtures("feed_applied")
def test_a_changed_file_under_the_same_batch_ids_is_refused(
    sapwood: Sapwood, tmp_path: Path
) -> None:
    data = tmp_path / "rows.csv"
    _write_csv(data, antinex_rows(8))
    assert sapwood("feed", "push", "ids", str(data), "--chunk-records", "4").exit_code == 0
    # Another chunk size cuts the same file into other bodies under the same batch ids.
    again = sapwood("feed", "push", "ids", str(data), "--chunk-records", "3")
    assert again.exit_code != 0
    assert "was already pushed with different records" in again.output


@pytest.mark.usefixtures("feed_applied")
def test_push_parquet_and_json_lines(sapwood: Sapwood, tmp_path: Path) -> None:
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(antinex_rows(5)), parquet)
    result = sapwood("feed", "push", "ids", str(parquet))
    assert "(sequences 1..5)" in result.stdout, result.output
    lines = tmp_path / "rows.jsonl"
    lines.write_text("\n".join(json.dumps(row) for row in antinex_rows(3)) + "\n")
    result = sapwood("feed", "push", "ids", str(lines))
    assert "(sequences 6..8)" in result.stdout, result.output


@pytest.mark.slow
@pytest.mark.usefixtures("feed_applied")
def test_tail_and_export_survive_nan_scores_stored_before_the_fix(
    sapwood: Sapwood, live_server: LiveServer
) -> None:
    with Client(live_server.url, token=live_server.admin_token) as client:
        client.push_records("ids", antinex_rows(3))
    database = f"sqlite:///{live_server.home / 'sapwood.db'}"
    store_results(database, "ids", raw_results([0.9, NAN, INF]))

    tail = sapwood("feed", "tail", "ids", "--no-follow")
    assert tail.exit_code == 0, tail.output
    rows = [line.split() for line in tail.stdout.splitlines()[1:]]
    assert [r[:3] for r in rows] == [["1", "1", "0.900"], ["2", "-", "n/a"], ["3", "-", "n/a"]]
    as_json = sapwood("feed", "tail", "ids", "--no-follow", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    second = json.loads(as_json.stdout.splitlines()[1])
    assert (second["prediction"], second["score"]) == (None, None)

    exported = sapwood("feed", "results", "ids")
    assert exported.exit_code == 0, exported.output
    assert len(exported.stdout.splitlines()) == 4
