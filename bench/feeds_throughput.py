"""Feeds throughput: 10 MB of AntiNex-v1 CSV rows pushed, scored and stored, end to end.

    .venv/bin/python bench/feeds_throughput.py [--megabytes 10] [--runs 3] [--skip-celery]

(a) Sapwood on its embedded defaults (SQLite, the store-backed queue), (b) Sapwood on
PostgreSQL + Redis Streams, (c) a reference pipeline in AntiNex's architecture (an API
process parses the CSV and publishes Celery tasks over Redis; two prefork Celery workers
score them with the same ONNX model and COPY the results into PostgreSQL; see
bench/_celery_pipeline.py for its settings), and (d) bare ONNX Runtime scoring of the same
rows in this process (the limit: parse + one session.run per 20,000 rows, nothing stored).

Each Sapwood run starts `sapwood server` with a fresh home, pushes the model (an MLP over
the 67 AntiNex features, AntiNex's dense-200 shape), applies a Feed with one worker, warms
it up with 200 rows, then times: the CSV posted in 2.5 MB chunks (each its own
all-or-nothing batch, two in flight at once) until the feed's figures count every row
scored and stored.

Rows: the real AntiNex attack captures from ../shared/data/antinex/ when present, mixed
with synthetic ordinary-traffic rows, repeated to the size asked for.

Needs: PostgreSQL on 127.0.0.1:5432 (trust auth; the database `sapwood_bench` is
created), Redis on 127.0.0.1:6379 (database 1 is used), and for (c) the environment
bench/.venv-celery (`python3 -m venv bench/.venv-celery && bench/.venv-celery/bin/pip
install 'celery[redis]' msgpack onnxruntime numpy pyarrow 'psycopg[binary]'`).

Ends with `RESULT feeds: seconds_10mb=... ratio_vs_celery=... overhead_vs_bare=...`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort
import psycopg
import pyarrow.csv as pacsv
import yaml

from sapwood.client import Client
from sapwood.client.errors import NotFoundError
from sapwood.specs.antinex import FEATURES
from sapwood.testing.onnx_models import mlp_model
from sapwood.testing.servers import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "antinex"
CELERY_VENV = ROOT / "bench" / ".venv-celery"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgresql://postgres@127.0.0.1:5432/sapwood_bench"
REDIS = "redis://127.0.0.1:6379/1"
CHUNK_BYTES = 2_500_000
LABELS = ("label_value", "label_name")
POSTERS = 2  # chunks in flight at once


# the rows


def attack_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(SHARED.glob("*_cleaned_attack.csv")) if SHARED.is_dir() else []:
        with path.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def make_csv(path: Path, megabytes: float, seed: int = 0) -> int:
    """Writes AntiNex-v1 rows (67 features and the labels) up to the size; returns the count."""
    rng = np.random.default_rng(seed)
    attacks = attack_rows()
    header = [*FEATURES, *LABELS]
    target = int(megabytes * 1_000_000)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    while out.tell() < target:
        if attacks and count % 2 == 0:
            source = attacks[(count // 2) % len(attacks)]
            row = [source.get(name, "-1") or "-1" for name in FEATURES] + ["1", "attack"]
        else:
            row = ["-1"] * len(FEATURES)
            row[0] = str(count)
            values = {
                "eth_type": 2048,
                "ip_ihl": 5,
                "ip_version": 4,
                "ip_tos": 0,
                "ip_len": int(rng.integers(52, 1500)),
                "tcp_dport": int(rng.choice([22, 443, 5432, 6379])),
                "tcp_sport": int(rng.integers(1024, 65535)),
                "tcp_seq": int(rng.integers(0, 2**31)),
            }
            for name, value in values.items():
                row[FEATURES.index(name)] = str(value)
            row += ["0", "not_attack"]
        writer.writerow(row)
        count += 1
    path.write_text(out.getvalue())
    return count


def chunks(path: Path) -> list[bytes]:
    """The CSV cut at line ends into pieces of about CHUNK_BYTES, each with the header."""
    lines = path.read_bytes().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    out, current, size = [], [header], 0
    for line in body:
        current.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            out.append(b"".join(current))
            current, size = [header], 0
    if len(current) > 1:
        out.append(b"".join(current))
    return out


# Sapwood


@contextmanager
def sapwood_server(env_extra: dict[str, str]) -> Iterator[tuple[Client, str]]:
    home = Path(tempfile.mkdtemp(prefix="sapwood-feeds-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAPWOOD_")}
    env.update(SAPWOOD_HOME=str(home), **env_extra)
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sapwood", "server", "--port", str(port), "--no-gateway"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, alive=lambda: process.poll() is None, timeout_s=60)
        token = yaml.safe_load((home / "config.yaml").read_text())["token"]
        with Client(url, token=token) as client:
            yield client, token
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def feed_document(name: str) -> dict[str, object]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Feed",
        "metadata": {"name": name},
        "spec": {
            "schema": "antinex-v1",
            "model": "antinex@production",
            "labelColumn": "label_value",
            "batch": {"maxRecords": 20000, "maxWait": "100ms"},
            "workers": {"min": 1, "max": 1},
            "resources": {"cpu": 1, "memory": "1Gi"},
        },
    }


def scored(client: Client, name: str) -> int:
    figures = client.feed_figures(name)
    return int(figures.scored)


def wait_scored(client: Client, name: str, count: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while scored(client, name) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"feed {name}: {scored(client, name)} of {count} scored")
        time.sleep(0.01)


def post_chunk(client: Client, pieces: list[bytes], i: int) -> None:
    # The AntiNex captures carry 23 of the 67 features: the rest take the schema's -1.
    client.push_records(
        "traffic", pieces[i], content_type="text/csv", batch_id=f"chunk-{i}", fill_missing=True
    )


def run_sapwood(csv_path: Path, model: bytes, env_extra: dict[str, str]) -> float:
    pieces = chunks(csv_path)
    total = sum(piece.count(b"\n") - 1 for piece in pieces)
    with sapwood_server(env_extra) as (client, _token):
        client.push_model(model, name="antinex", alias="production")
        client.apply([feed_document("traffic")])
        warm = b"".join(pieces[0].splitlines(keepends=True)[:201])
        client.push_records(
            "traffic", warm, content_type="text/csv", batch_id="warm-up", fill_missing=True
        )
        wait_scored(client, "traffic", 200, timeout_s=120)
        started = time.perf_counter()
        # Two posts in flight, as a client with two connections would send them: one is
        # sent while the server parses the other. Progress is asked for once all are in.
        with ThreadPoolExecutor(POSTERS) as posters:
            list(posters.map(lambda i: post_chunk(client, pieces, i), range(len(pieces))))
        wait_scored(client, "traffic", 200 + total)
        seconds = time.perf_counter() - started
        remove_feed(client, "traffic")
        return seconds


def remove_feed(client: Client, name: str, timeout_s: float = 60.0) -> None:
    """Deletes the feed and waits until it is gone: the local runtime keeps workloads
    running across a server stop, and a worker left behind would take CPU from later runs."""
    client.delete("Feed", name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.get("Feed", name)
        except NotFoundError:
            return
        time.sleep(0.1)


# the reference pipeline


def prepare_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = 'sapwood_bench'").fetchone()
        if not exists:
            db.execute("CREATE DATABASE sapwood_bench")
    with psycopg.connect(PG_BENCH, autocommit=True) as db:
        db.execute("DROP SCHEMA public CASCADE")
        db.execute("CREATE SCHEMA public")
        db.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS celery_results "
            "(seq bigint PRIMARY KEY, prediction int, score real)"
        )


def run_celery(csv_path: Path, model_path: Path) -> float:
    python = CELERY_VENV / "bin" / "python"
    env = {
        **os.environ,
        "BENCH_MODEL": str(model_path),
        "BENCH_PG_URL": PG_BENCH,
        "BENCH_REDIS_URL": REDIS,
        "BENCH_FEATURES": json.dumps(list(FEATURES)),
        "PYTHONPATH": str(ROOT / "bench"),
    }
    worker = subprocess.Popen(
        [str(python), "-m", "celery", "-A", "_celery_pipeline", "worker", "--pool", "prefork",
         "--concurrency", "2", "--loglevel", "warning", "--without-gossip", "--without-mingle"],
        env=env,
        cwd=ROOT / "bench",
        stdout=(csv_path.parent / "celery.log").open("a"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        driver = [str(python), str(ROOT / "bench" / "_celery_driver.py")]
        warm = csv_path.with_suffix(".warm.csv")
        warm.write_text("".join(csv_path.read_text().splitlines(keepends=True)[:4001]))
        subprocess.run([*driver, str(warm)], env=env, check=True, capture_output=True)
        answer = subprocess.run(
            [*driver, str(csv_path)], env=env, check=True, capture_output=True, text=True
        )
        return float(json.loads(answer.stdout)["seconds"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)


# the limit


def run_bare(csv_path: Path, model: bytes) -> float:
    options = ort.SessionOptions()
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    started = time.perf_counter()
    table = pacsv.read_csv(csv_path)
    matrix = np.column_stack([table.column(n).to_numpy().astype(np.float32) for n in FEATURES])
    for first in range(0, len(matrix), 20000):
        session.run(None, {"features": matrix[first : first + 20000]})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--skip-celery", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    csv_path = work / "rows.csv"
    rows = make_csv(csv_path, args.megabytes)
    model = mlp_model(features=len(FEATURES), hidden=200, classes=2, feature_names=list(FEATURES))
    model_path = work / "antinex.onnx"
    model_path.write_bytes(model)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"{rows} rows, {size_mb:.1f} MB, attack rows from the AntiNex captures: "
          f"{'yes' if attack_rows() else 'no (synthetic only)'}")  # fmt: skip
    if not args.skip_postgres or not args.skip_celery:
        prepare_postgres()

    figures: dict[str, list[float]] = {"embedded": [], "pg_redis": [], "celery": [], "bare": []}
    for run in range(args.runs):
        figures["bare"].append(run_bare(csv_path, model))
        figures["embedded"].append(run_sapwood(csv_path, model, {}))
        if not args.skip_postgres:
            prepare_postgres()
            extra = {"SAPWOOD_DATABASE_URL": PG_BENCH, "SAPWOOD_REDIS_URL": REDIS}
            figures["pg_redis"].append(run_sapwood(csv_path, model, extra))
        if not args.skip_celery:
            prepare_postgres()
            figures["celery"].append(run_celery(csv_path, model_path))
        print(f"run {run + 1}: " + ", ".join(f"{k}={v[-1]:.3f}s" for k, v in figures.items() if v))

    med = {k: statistics.median(v) if v else float("nan") for k, v in figures.items()}
    scale = 10.0 / size_mb  # seconds for 10 MB
    print(f"\n{'pipeline':<28}{'seconds/10MB':>14}{'rows/s':>12}")
    names = {
        "embedded": "Sapwood, embedded (SQLite)",
        "pg_redis": "Sapwood, PostgreSQL + Redis",
        "celery": "Celery reference pipeline",
        "bare": "bare ONNX Runtime (limit)",
    }
    for key, label in names.items():
        print(f"{label:<28}{med[key] * scale:>14.3f}{rows / med[key]:>12.0f}")
    print(
        "RESULT feeds: "
        f"seconds_10mb={med['embedded'] * scale:.3f} "
        f"ratio_vs_celery={med['celery'] / med['embedded']:.2f} "
        f"overhead_vs_bare={med['embedded'] / med['bare']:.2f} "
        f"seconds_10mb_pg_redis={med['pg_redis'] * scale:.3f} "
        f"celery_seconds_10mb={med['celery'] * scale:.3f} "
        f"bare_seconds_10mb={med['bare'] * scale:.3f} "
        f"rows={rows} rows_per_s={rows / med['embedded']:.0f}"
    )


if __name__ == "__main__":
    main()
