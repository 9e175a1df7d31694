"""The whole path on one machine: a feed's own workers, started by the controller on the
local runtime, score pushed records with the registry's model; then they stop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sapwood.client import Client
from sapwood.specs import antinex
from sapwood.testing.feeds import antinex_rows, feed
from sapwood.testing.onnx_models import mlp_model
from sapwood.testing.servers import live_server


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_feed_workers_start_score_and_stop(tmp_path: Path) -> None:
    model = mlp_model(features=67, hidden=8, feature_names=list(antinex.FEATURES))
    spec = {
        "batch": {"maxRecords": 50},
        "workers": {"min": 0, "max": 2, "targetBacklogPerWorker": 100},
        "resources": {"cpu": "250m", "memory": "1Gi"},
    }
    with (
        live_server(tmp_path / "home", controller=True) as server,
        Client(server.url, token=server.admin_token) as client,
    ):
        client.push_model(model, name="ids", alias="production")
        client.apply([feed("ids", team="default", **spec)])
        client.push_records("ids", antinex_rows(300))

        _wait(lambda: client.feed_figures("ids").scored == 300, "every record scored")
        sequences: list[int] = []
        token = None
        while True:
            page = client.feed_results("ids", limit=1000, continue_=token)
            sequences += [r.sequence for r in page.items]
            assert {r.model_version for r in page.items} == {"1"}
            if not (token := page.continue_):
                break
        assert sequences == list(range(1, 301))  # each exactly once

        _wait(lambda: client.get("feed", "ids").status.get("readyReplicas") == 0, "workers gone")
        client.delete("feed", "ids")
        _wait(lambda: not client.list("feeds"), "the feed deleted")
