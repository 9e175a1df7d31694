"""kill -9 of a feed worker mid-run loses no result and duplicates none: counted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import uvicorn

from sapwood.client import Client
from sapwood.server.app import create_app
from sapwood.server.settings import (
    ApiSettings,
    ControllerSettings,
    FeedSettings,
    Settings,
    StoreSettings,
)
from sapwood.specs import antinex
from sapwood.testing.feeds import antinex_rows, feed
from sapwood.testing.onnx_models import mlp_model
from sapwood.testing.servers import LiveServer, free_port, wait_ready
from sapwood.testing.waiting import eventually_sync

ROWS = 6000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server whose leases expire after one second."""
    port = free_port()
    settings = Settings(
        home=tmp_path / "home",
        api=ApiSettings(port=port),
        store=StoreSettings(),
        controller=ControllerSettings(enabled=False),
        feeds=FeedSettings(visibility_timeout_s=1.0),
    )
    tokens: list[str] = []
    app = create_app(settings, on_bootstrap=tokens.append)
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, alive=thread.is_alive)
    try:
        yield LiveServer(url=url, admin_token=tokens[0], home=tmp_path / "home")
    finally:
        runner.should_exit = True
        thread.join(timeout=30)


def _worker(server: LiveServer, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env |= {"SAPWOOD_URL": server.url, "SAPWOOD_TOKEN": server.admin_token}
    command = [sys.executable, "-m", "sapwood.feeds.worker", "--feed", "ids", "--team", "default"]
    return subprocess.Popen([*command, *args], env=env, stderr=subprocess.DEVNULL)


def test_a_killed_worker_loses_and_duplicates_nothing(server: LiveServer, tmp_path: Path) -> None:
    model = mlp_model(features=67, hidden=256, feature_names=list(antinex.FEATURES))
    with Client(server.url, token=server.admin_token) as client:
        client.push_model(model, name="ids", alias="production")
        client.apply([feed("ids", team="default", batch={"maxRecords": 100})])
        rows = antinex_rows(ROWS)
        half = ROWS // 2  # two posts: complete rows as JSON exceed the 8 MiB body limit
        client.push_records("ids", rows[:half])
        client.push_records("ids", rows[half:])
        held = client.lease_batch("ids", consumer="never-acks")  # one batch surely in flight
        assert held is not None

        first = _worker(server, "--wait", "1")
        eventually_sync(
            lambda: client.feed_figures("ids").scored > 0, what="a first result", timeout_s=60
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        second = _worker(server, "--wait", "3", "--exit-when-idle")
        assert second.wait(timeout=120) == 0

        figures = client.feed_figures("ids")
        assert (figures.scored, figures.backlog) == (ROWS, 0)
        path = tmp_path / "results.parquet"
        path.write_bytes(client.export_feed_results("ids", format="parquet"))
    sequences = pq.read_table(path).column("sequence").to_pylist()
    assert sorted(sequences) == list(range(1, ROWS + 1))  # every record once, none twice
