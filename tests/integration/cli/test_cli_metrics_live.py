"""`sapwood metrics` against a live server: the summary table and one metric's series."""

from __future__ import annotations

from pathlib import Path

from sapwood.client import Client
from sapwood.testing.servers import LiveServer
from tests.integration.cli.conftest import Sapwood, job_yaml


def test_metrics_summary_and_series(sapwood: Sapwood, live_server: LiveServer, specs: Path) -> None:
    (specs / "train.yaml").write_text(job_yaml("train"))
    assert sapwood("apply", "-f", str(specs / "train.yaml")).exit_code == 0
    with Client(live_server.url, token=live_server.admin_token) as admin:
        admin.write_metrics(
            "job",
            "train",
            [{"name": "loss", "value": v, "step": s} for s, v in enumerate([0.9, 0.4, 0.6, 0.1])]
            + [{"name": "accuracy", "value": 0.5, "step": 3}],
        )

    summary = sapwood("metrics", "job", "train")
    assert summary.exit_code == 0, summary.output
    lines = summary.stdout.splitlines()
    assert lines[0].split() == ["NAME", "LAST", "STEP", "LAST", "VALUE", "MIN", "MAX", "POINTS"]
    assert lines[1].split() == ["accuracy", "3", "0.5", "0.5", "0.5", "1"]
    assert lines[2].split() == ["loss", "3", "0.1", "0.1", "0.9", "4"]

    series = sapwood("metrics", "job", "train", "--name", "loss")
    assert series.exit_code == 0, series.output
    assert [line.split() for line in series.stdout.splitlines()] == [
        ["STEP", "VALUE"],
        ["0", "0.9"],
        ["1", "0.4"],
        ["2", "0.6"],
        ["3", "0.1"],
    ]

    averaged = sapwood("metrics", "job", "train", "--name", "loss", "--points", "3")
    assert averaged.stdout.splitlines()[2].split() == ["2", "0.5", "2"]  # steps 1 and 2


def test_metrics_when_there_are_none(sapwood: Sapwood, specs: Path) -> None:
    (specs / "train.yaml").write_text(job_yaml("train"))
    sapwood("apply", "-f", str(specs / "train.yaml"))
    result = sapwood("metrics", "job", "train", "--name", "loss")
    assert result.exit_code == 0
    assert "No metric 'loss' logged by job/train." in result.stderr
    missing = sapwood("metrics", "job", "ghost")
    assert missing.exit_code == 1
    assert "not found" in missing.stderr
