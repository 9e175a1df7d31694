"""The whole path on one machine: a feed's own workers, started by the controller on the
local runtime, score pushed records with the registry's model; then they stop."""

from __future__ import annotations

from pathlib import Path

from sapwood.client import Client
from sapwood.specs import antinex
from sapwood.testing.feeds import antinex_rows, feed
from sapwood.testing.onnx_models import mlp_model
from sapwood.testing.servers import live_server
from sapwood.testing.waiting import eventually_sync


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

        eventually_sync(
            lambda: client.feed_figures("ids").scored == 300,
            what="every record scored",
            timeout_s=90,
        )
        sequences: list[int] = []
        token = None
        while True:
            page = client.feed_results("ids", limit=1000, continue_=token)
            sequences += [r.sequence for r in page.items]
            assert {r.model_version for r in page.items} == {"1"}
            if not (token := page.continue_):
                break
        assert sequences == list(range(1, 301))  # each exactly once

        eventually_sync(
            lambda: client.get("feed", "ids").status.get("readyReplicas") == 0,
            what="workers gone",
            timeout_s=90,
        )
        client.delete("feed", "ids")
        eventually_sync(lambda: not client.list("feeds"), what="the feed deleted", timeout_s=90)
