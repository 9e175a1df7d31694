"""List and get at 50,000 objects, with migration 0013's indexes and without them.

    .venv/bin/python bench/object_lists.py [--objects 50000] [--requests 300]

The API alone (bench/_control_plane_server.py --no-controller: uvicorn, SQLite, no
controller and no gateway), so the figures are what a request costs and nothing else:
bench/control_plane.py measures the same requests beside a running controller. The Jobs
are written straight into the store (seconds, where the API takes minutes), as the server
writes them: a parsed spec, one label, a Pending status with its reason.

Requests go one at a time over one keep-alive connection: ``GET /api/v1/jobs?limit=50``
(the first page), the same page filtered by a label selector, the 100th page (a continue
token), ``GET /api/v1/jobs/<name>`` without and with ``?team=``, and ``/api/v1/whoami``
(the cost of authenticating alone); p50 and p99 of each, and the server's CPU time per
request. Then the indexes are dropped (the store as it was before 0013) and the same
requests are made again. Ends with ``RESULT object_lists: ...``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

from _latency_common import percentile
from control_plane import Server, job
from sapwood.server.store.engine import sync_url
from sapwood.server.store.tables import LabelRow, ObjectRow
from sapwood.specs.objects import parse_object, spec_dict

INDEXES = ("ix_objects_kind_id", "ix_objects_kind_name")
LABEL = ("bench", "control-plane")


def seed(url: str, count: int) -> None:
    """``count`` pending GPU Jobs named idle-00000..., in team default, as the server
    writes them."""
    document = job("template", gpu=1)
    spec = spec_dict(parse_object(document).spec)
    now = datetime.now(UTC)
    status = {
        "phase": "Pending",
        "phaseSince": now.isoformat(),
        "reason": "Unschedulable",
        "message": "needs 1 GPU; the cluster has none",
    }
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for start in range(0, count, 5000):
                rows = [
                    {
                        "uid": str(uuid.uuid4()),
                        "kind": "Job",
                        "team": "default",
                        "name": f"idle-{i:05d}",
                        "labels": dict([LABEL]),
                        "spec": spec,
                        "status": status,
                        "generation": 1,
                        "resource_version": 2,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(count, start + 5000))
                ]
                conn.execute(sqlalchemy.insert(ObjectRow), rows)
            ids = conn.scalars(sqlalchemy.select(ObjectRow.id)).all()
            labels = [{"object_id": i, "key": LABEL[0], "value": LABEL[1]} for i in ids]
            conn.execute(sqlalchemy.insert(LabelRow), labels)
    finally:
        engine.dispose()


def drop_indexes(url: str) -> None:
    engine = sqlalchemy.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for name in INDEXES:
                conn.execute(sqlalchemy.text(f"DROP INDEX {name}"))
    finally:
        engine.dispose()


def measure(server: Server, objects: int, requests: int) -> dict[str, float]:
    rng = random.Random(1)
    page = server.call("GET", "/api/v1/jobs?limit=50")
    for _ in range(min(99, objects // 50 - 2)):  # to the 100th page (or one short of the end)
        page = server.call("GET", f"/api/v1/jobs?limit=50&continue={page['continue']}")
    paths: dict[str, Any] = {
        "list": lambda: "/api/v1/jobs?limit=50",
        "list_selector": lambda: f"/api/v1/jobs?limit=50&selector={LABEL[0]}%3D{LABEL[1]}",
        "list_page100": lambda: f"/api/v1/jobs?limit=50&continue={page['continue']}",
        "get": lambda: f"/api/v1/jobs/idle-{rng.randrange(objects):05d}",
        "get_team": lambda: f"/api/v1/jobs/idle-{rng.randrange(objects):05d}?team=default",
        "whoami": lambda: "/api/v1/whoami",
    }
    figures: dict[str, float] = {}
    for label, path in paths.items():
        for _ in range(10):  # warm: the store's pages in the cache, the code paths run once
            server.call("GET", path())
        cpu_before = server.cpu_s()
        latencies = []
        for _ in range(requests):
            started = time.perf_counter()
            server.call("GET", path())
            latencies.append((time.perf_counter() - started) * 1000)
        cpu_ms = (server.cpu_s() - cpu_before) / requests * 1000
        figures[f"{label}_p50_ms"] = percentile(latencies, 50)
        figures[f"{label}_p99_ms"] = percentile(latencies, 99)
        figures[f"{label}_cpu_ms"] = cpu_ms
        print(
            f"  {label:<14} p50 {percentile(latencies, 50):6.1f} ms  p99 "
            f"{percentile(latencies, 99):6.1f} ms  server CPU {cpu_ms:5.1f} ms a request",
            flush=True,
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300, help="per kind of request")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sw-object-lists-"))
    try:
        work.mkdir(exist_ok=True)
        server = Server(work, database_url=None, cpus=8, gpus=0, extra=["--no-controller"])
        try:
            url = f"sqlite:///{server.home / 'sapwood.db'}"
            started = time.monotonic()
            seed(url, args.objects)
            print(f"{args.objects} Jobs written in {time.monotonic() - started:.1f} s")
            print("with the indexes of migration 0013:", flush=True)
            after = measure(server, args.objects, args.requests)
            drop_indexes(url)
            print("without them (the store before 0013):", flush=True)
            before = measure(server, args.objects, args.requests)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    keys = ("list_p50_ms", "list_p99_ms", "get_p50_ms", "get_p99_ms", "list_selector_p50_ms")
    print(
        "RESULT object_lists: "
        + " ".join(f"{key}={after[key]:.1f}" for key in keys)
        + " "
        + " ".join(f"before_{key}={before[key]:.1f}" for key in keys)
        + f" whoami_p50_ms={after['whoami_p50_ms']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
