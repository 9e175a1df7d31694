"""Model serving: requests/s and latency of one ONNX model behind Sapwood and its peers.

    .venv/bin/python bench/serving.py [--seconds 10] [--quick] [--only sapwood,ray,bentoml,ort]

The model: `sapwood.testing.onnx_models.mlp_model(features=67, hidden=32, classes=2, seed=0)`,
an MLP over the 67 AntiNex features with 2 classes. Every request carries one row (the same
67 numbers for every peer), in each peer's natural JSON format:

- sapwood (gw): `python -m sapwood.serving` (one replica; ONNX Runtime threads = the cores,
  micro-batching up to 64 rows, 2 ms wait) reached through Sapwood's gateway
  (`python -m sapwood.server.gateway --routes-file F`, the service public) at
  `/s/bench/antinex/v2/models/antinex/infer`, Open Inference Protocol body
  `{"inputs": [{"name": "features", "shape": [1, 67], "datatype": "FP32", "data": [...]}]}`;
  also with the rows body `{"rows": [[...]]}` at `.../v2/models/antinex/predict`;
- sapwood (direct): the same replica without the gateway (the gateway's overhead);
- ray: Ray Serve, one deployment of `num_replicas` = the cores, `@serve.batch` (64 rows,
  2 ms), behind Serve's HTTP proxy; body `{"rows": [[...]]}` (bench/_ray_serve.py);
- bentoml: a BentoML service with `workers` = the cores and adaptive batching (64 rows);
  body `{"rows": [[...]]}` (bench/_bento_service.py);
- ort: ONNX Runtime called in-process, the limit: one `session.run` per batch of as many
  rows as the concurrency (1 or 64), no HTTP and no JSON; a "request" is a row.

Each (peer, concurrency) is driven for `--seconds` (after a warm-up) by bench/_loadgen.py in
a process of its own: asyncio streams, one keep-alive HTTP/1.1 connection per concurrent
request, pre-encoded requests; its CPU use is printed beside the figures. Peers run one after
another, never side by side; Sapwood through the gateway and direct alternate in
`--slices` slices (their latencies pooled), so that other work on a shared machine weighs
on both alike. When run as root with `unshare` available, the whole benchmark
re-runs itself inside a fresh network namespace (`unshare --net`, only `lo` up), so every
server binds and is reached on loopback only; Ray is measured only there. A peer that does
not start is reported with nan figures.

Ends with one line `RESULT serving: ...`: rps_c64 is Sapwood through the gateway (infer) at
concurrency 64; ratio_vs_ray / ratio_vs_bentoml = that / the peer's requests/s at 64;
gateway_p50_overhead_ms = p50 through the gateway - p50 direct, at concurrency 1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from _latency_common import percentile

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LOADGEN = BENCH / "_loadgen.py"
RAY_VENV = BENCH / ".venv-ray"
BENTO_VENV = BENCH / ".venv-bento"
PEERS = ("sapwood", "ray", "bentoml", "ort")
NETNS_ENV = "SAPWOOD_BENCH_NETNS"
FEATURES, HIDDEN, CLASSES = 67, 32, 2
MODEL_NAME, TEAM, SERVICE = "antinex", "bench", "antinex"
READY_TIMEOUT_S = 120.0
RAY_READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0


@dataclass
class Figures:
    """One (peer, concurrency) measurement, or why there is none."""

    rps: float = math.nan
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    count: int = 0
    errors: int = 0
    client_cpu_pct: float = math.nan
    server_cpu_s: float = math.nan  # the servers' processes, warm-up included
    completed: int = 0  # requests answered, warm-up included
    error: str = ""
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # with raw=True

    @classmethod
    def failed(cls, why: str) -> Figures:
        return cls(error=why)

    @property
    def server_cpu_ms(self) -> float:
        """CPU the servers spent per request answered (all their processes together)."""
        return 1000 * self.server_cpu_s / self.completed if self.completed else math.nan


@dataclass
class Peer:
    label: str
    request: str  # what one request is, for the table's notes
    figures: dict[int, Figures] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def row_values() -> list[float]:
    """The one row every request carries: 67 fixed numbers in [-1, 1), four decimals."""
    return [round(((i * 7919) % 2000) / 1000 - 1, 4) for i in range(FEATURES)]


def rows_body() -> bytes:
    return json.dumps({"rows": [row_values()]}).encode()


def infer_body() -> bytes:
    tensor = {"name": "features", "shape": [1, FEATURES], "datatype": "FP32", "data": row_values()}
    return json.dumps({"inputs": [tensor]}).encode()


# --- processes -------------------------------------------------------------------------------


def start(argv: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )


def stop(proc: subprocess.Popen[bytes], *, group: bool = True) -> None:
    """SIGTERM, then SIGKILL after a while; `group`: the whole process group at the end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        except (ProcessLookupError, PermissionError):
            pass


def tree_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def post_ok(port: int, path: str, body: bytes) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_post(proc: subprocess.Popen[bytes], port: int, path: str, body: bytes, what: str) -> None:
    """Until POST path answers 200; RuntimeError when the process dies or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not post_ok(port, path, body):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer POST {path} in {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.1)


# --- load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    seconds: float
    warmup_s: float
    concurrencies: tuple[int, ...]
    work: Path
    slices: int = 1  # Sapwood through the gateway and direct: alternating slices

    def drive(
        self,
        port: int,
        path: str,
        body: bytes,
        concurrency: int,
        *,
        seconds: float | None = None,
        raw: bool = False,
        servers: Sequence[int] = (),
    ) -> Figures:
        """Runs bench/_loadgen.py against 127.0.0.1:port in its own process."""
        seconds = self.seconds if seconds is None else seconds
        body_file = self.work / f"body-{abs(hash(body))}.json"
        body_file.write_bytes(body)
        argv = [
            sys.executable,
            str(LOADGEN),
            f"--port={port}",
            f"--path={path}",
            f"--body-file={body_file}",
            f"--concurrency={concurrency}",
            f"--seconds={seconds}",
            f"--warmup-seconds={self.warmup_s}",
            *(["--raw"] if raw else []),
        ]
        cpu0 = tree_cpu_s(servers)
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=seconds + self.warmup_s + 60, check=True
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            return Figures.failed(f"load generator failed: {exc}: {stderr.decode()[-300:]}")
        out = json.loads(done.stdout.decode().strip().splitlines()[-1])
        figures = Figures(
            rps=out["rps"],
            p50_ms=out["p50_ms"],
            p99_ms=out["p99_ms"],
            count=out["count"],
            errors=out["errors"],
            client_cpu_pct=out["client_cpu_pct"],
            latencies_ms=out.get("latencies_ms", []),
            server_cpu_s=tree_cpu_s(servers) - cpu0 if servers else math.nan,
            completed=out["completed"],
        )
        if out["count"] == 0:
            figures.error = f"no request succeeded; statuses {out['statuses']}; " + str(
                out["sample_response"]
            )
        return figures

    def each(self, peer: Peer, port: int, path: str, body: bytes, servers: Sequence[int]) -> None:
        for c in self.concurrencies:
            print(f"  {peer.label}, concurrency {c} ...", flush=True)
            peer.figures[c] = self.drive(port, path, body, c, servers=servers)


def merge(parts: list[Figures], seconds: float) -> Figures:
    """Slices of one measurement as one: requests/s over all of them, percentiles of all."""
    failed = [p.error for p in parts if p.error]
    if failed:
        return Figures.failed(failed[0])
    latencies = [x for p in parts for x in p.latencies_ms]
    return Figures(
        rps=len(latencies) / seconds,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        count=len(latencies),
        errors=sum(p.errors for p in parts),
        client_cpu_pct=sum(p.client_cpu_pct for p in parts) / len(parts),
        server_cpu_s=sum(p.server_cpu_s for p in parts),
        completed=sum(p.completed for p in parts),
    )


def fail_all(peers: list[Peer], concurrencies: tuple[int, ...], why: str) -> None:
    for peer in peers:
        for c in concurrencies:
            peer.figures.setdefault(c, Figures.failed(why))


# --- peers -----------------------------------------------------------------------------------


def run_sapwood(load: Load, model: Path) -> list[Peer]:
    infer = f"/v2/models/{MODEL_NAME}/infer"
    predict = f"/v2/models/{MODEL_NAME}/predict"
    prefix = f"/s/{TEAM}/{SERVICE}"
    gw = Peer("sapwood (gw)", "OIP infer via gateway")
    direct = Peer("sapwood (direct)", "OIP infer, no gateway")
    gw_rows = Peer("sapwood (gw, rows)", "rows via gateway")
    peers = [gw, direct, gw_rows]
    replica_port, gateway_port = free_port(), free_port()
    routes = load.work / "routes.json"
    entry = {
        "team": TEAM,
        "service": SERVICE,
        "endpoints": [f"127.0.0.1:{replica_port}"],
        "gateway": {"auth": "public"},
    }
    routes.write_text(json.dumps({"services": [entry]}))
    replica_log, gateway_log = load.work / "replica.log", load.work / "gateway.log"
    python = sys.executable
    replica_argv = [python, "-m", "sapwood.serving", "--model-path", str(model)]
    replica_argv += ["--name", MODEL_NAME, "--port", str(replica_port), "--log-level", "warning"]
    replica = start(replica_argv, replica_log)
    gateway: subprocess.Popen[bytes] | None = None
    try:
        wait_post(replica, replica_port, infer, infer_body(), "the model server")
        gateway_argv = [python, "-m", "sapwood.server.gateway", "--routes-file", str(routes)]
        gateway = start([*gateway_argv, "--port", str(gateway_port)], gateway_log)
        wait_post(gateway, gateway_port, prefix + infer, infer_body(), "the gateway")
        # Through the gateway and direct in alternating slices, so that the other work on
        # the machine weighs on both alike; the gateway's overhead is their difference.
        pair = ((gw, gateway_port, prefix + infer), (direct, replica_port, infer))
        servers = (replica.pid, gateway.pid)
        for c in load.concurrencies:
            print(f"  {gw.label} and {direct.label}, concurrency {c} ...", flush=True)
            parts: dict[str, list[Figures]] = {gw.label: [], direct.label: []}
            for _ in range(load.slices):
                for peer, port, path in pair:
                    seconds = load.seconds / load.slices
                    part = load.drive(
                        port, path, infer_body(), c, seconds=seconds, raw=True, servers=servers
                    )
                    parts[peer.label].append(part)
            for peer, _, _ in pair:
                peer.figures[c] = merge(parts[peer.label], load.seconds)
        load.each(gw_rows, gateway_port, prefix + predict, rows_body(), servers)
    except RuntimeError as exc:
        print(f"  sapwood: {exc}\n{log_tail(replica_log)}\n{log_tail(gateway_log)}", flush=True)
        fail_all(peers, load.concurrencies, str(exc))
    finally:
        if gateway is not None:
            stop(gateway)
        stop(replica)
    return peers


def run_ray(load: Load, model: Path, *, in_netns: bool, optimized: bool) -> Peer:
    peer = Peer("ray", "rows via Serve's proxy")
    python = RAY_VENV / "bin" / "python"
    why = ""
    if not python.exists():
        why = f"no Ray environment at {RAY_VENV} (see bench/README.md)"
    elif not in_netns:
        why = "Ray runs only inside `unshare --net` (needs root and unshare)"
    if why:
        fail_all([peer], load.concurrencies, why)
        return peer
    port = free_port()
    log = load.work / "ray.log"
    (load.work / "ray").mkdir()
    argv = [str(python), str(BENCH / "_ray_serve.py"), f"--model-path={model}"]
    argv += [f"--port={port}", f"--work-dir={load.work / 'ray'}", f"--replicas={cores()}"]
    # Ray's documented throughput-optimized mode (user code on the replica's loop, gRPC
    # between proxy and replicas, buffered request logs, GC frozen after start-up).
    env = dict(os.environ, RAY_SERVE_THROUGHPUT_OPTIMIZED="1" if optimized else "0")
    with log.open("ab") as err:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            cwd=BENCH,
        )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], RAY_READY_TIMEOUT_S)
        line = proc.stdout.readline() if ready else b""
        if not line.strip():
            raise RuntimeError(f"Ray Serve did not start; {log_tail(log, 5)}")
        mode = "throughput-optimized" if optimized else "defaults"
        peer.request = f"rows, Ray {json.loads(line)['ray_version']} {mode}"
        load.each(peer, port, "/", rows_body(), [proc.pid])
    except RuntimeError as exc:
        print(f"  ray: {exc}", flush=True)
        fail_all([peer], load.concurrencies, str(exc))
    finally:
        proc.stdin.close()  # _ray_serve.py shuts Serve and Ray down when its stdin closes
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pass
        stop(proc)
    return peer


def run_bentoml(load: Load, model: Path) -> Peer:
    peer = Peer("bentoml", "rows, BentoML JSON")
    bentoml = BENTO_VENV / "bin" / "bentoml"
    if not bentoml.exists():
        fail_all([peer], load.concurrencies, f"no BentoML environment at {BENTO_VENV}")
        return peer
    port = free_port()
    log = load.work / "bentoml.log"
    env = dict(
        os.environ,
        SERVING_BENCH_MODEL=str(model),
        SERVING_BENCH_WORKERS=str(cores()),
        BENTOML_HOME=str(load.work / "bentoml"),
        BENTOML_DO_NOT_TRACK="True",
    )
    argv = [str(bentoml), "serve", "_bento_service:Antinex", "--working-dir", str(BENCH)]
    proc = start([*argv, "--host", "127.0.0.1", "--port", str(port)], log, env=env, cwd=BENCH)
    try:
        wait_post(proc, port, "/predict", rows_body(), "BentoML")
        load.each(peer, port, "/predict", rows_body(), [proc.pid])
    except RuntimeError as exc:
        print(f"  bentoml: {exc}\n{log_tail(log)}", flush=True)
        fail_all([peer], load.concurrencies, str(exc))
    finally:
        stop(proc)  # its workers run in sessions of their own; the arbiter stops them
    return peer


def run_ort(load: Load, model: Path) -> Peer:
    """ONNX Runtime in this process: one run per batch of `concurrency` rows, back to back."""
    import numpy as np
    import onnxruntime as ort

    peer = Peer("ort (in-process)", "rows, no HTTP")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for c in load.concurrencies:
        batch = np.asarray([row_values()] * c, dtype=np.float32)
        deadline = time.perf_counter() + load.warmup_s
        while time.perf_counter() < deadline:
            session.run(None, {name: batch})
        latencies: list[float] = []
        cpu0, start_s = time.process_time(), time.perf_counter()
        end = start_s + load.seconds
        now = start_s
        while now < end:
            session.run(None, {name: batch})
            done = time.perf_counter()
            latencies.append((done - now) * 1000)
            now = done
        cpu_s = time.process_time() - cpu0
        peer.figures[c] = Figures(
            rps=len(latencies) * c / load.seconds,
            p50_ms=percentile(latencies, 50),
            p99_ms=percentile(latencies, 99),
            count=len(latencies) * c,
            client_cpu_pct=100 * cpu_s / load.seconds,
            server_cpu_s=cpu_s,
            completed=len(latencies) * c,
        )
    return peer


# --- report ----------------------------------------------------------------------------------


def print_table(peers: list[Peer], concurrencies: tuple[int, ...]) -> None:
    print(
        f"{'peer':<20}{'request':<40}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'client CPU':>11}{'server CPU':>11}"
    )
    for peer in peers:
        for c in concurrencies:
            f = peer.figures.get(c, Figures.failed("not run"))
            print(
                f"{peer.label:<20}{peer.request[:39]:<40}{c:>5}{f.rps:>10.0f}{f.p50_ms:>9.2f}"
                f"{f.p99_ms:>9.2f}{f.errors:>8}{f.client_cpu_pct:>10.0f}%{f.server_cpu_ms:>11.3f}"
            )
    notes = {
        f"{peer.label} @{c}: {f.error}"
        for peer in peers
        for c, f in peer.figures.items()
        if f.error
    }
    for note in sorted(notes):
        print(f"  not measured: {note}")


def netns_argv() -> list[str] | None:
    """The command that re-runs this script in a fresh network namespace, or None."""
    if os.environ.get(NETNS_ENV) or os.geteuid() != 0:
        return None
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    inner = 'ip link set lo up && exec "$0" "$@"'
    return ["unshare", "--net", "sh", "-c", inner, sys.executable, *sys.argv]


def on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"signal {signum}")  # so that `finally` stops the servers


@contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sw-serving-"))
    try:
        yield path
    finally:
        if keep:
            print(f"work directory kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="2 s per run, 0.5 s warm-up")
    parser.add_argument(
        "--slices",
        type=int,
        default=5,
        help="Sapwood via the gateway and direct alternate in this many slices per row (5)",
    )
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated peers")
    parser.add_argument("--concurrency", default="1,64", help="comma-separated (1,64)")
    parser.add_argument("--no-netns", action="store_true", help="stay in this namespace")
    parser.add_argument(
        "--ray-defaults",
        action="store_true",
        help="run Ray Serve with its defaults, not RAY_SERVE_THROUGHPUT_OPTIMIZED=1",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(only) - set(PEERS))
    if unknown:
        parser.error(f"--only: unknown peer(s) {', '.join(unknown)}; choose from {PEERS}")
    concurrencies = tuple(int(c) for c in args.concurrency.split(","))
    if not args.no_netns and (argv := netns_argv()) is not None:
        inner = subprocess.Popen(argv, env=dict(os.environ, **{NETNS_ENV: "1"}))
        signal.signal(signal.SIGTERM, lambda signum, frame: inner.send_signal(signum))
        return inner.wait()
    in_netns = bool(os.environ.get(NETNS_ENV))
    signal.signal(signal.SIGTERM, on_sigterm)
    seconds, warmup = (2.0, 0.5) if args.quick else (args.seconds, args.warmup_seconds)

    from sapwood.testing.onnx_models import mlp_model

    peers: list[Peer] = []
    load_before = os.getloadavg()
    with work_dir(args.keep) as work:
        model = work / "antinex.onnx"
        model.write_bytes(mlp_model(features=FEATURES, hidden=HIDDEN, classes=CLASSES, seed=0))
        load = Load(
            seconds=seconds,
            warmup_s=warmup,
            concurrencies=concurrencies,
            work=work,
            slices=max(1, args.slices),
        )
        runners: dict[str, Callable[[], list[Peer]]] = {
            "sapwood": lambda: run_sapwood(load, model),
            "ray": lambda: [
                run_ray(load, model, in_netns=in_netns, optimized=not args.ray_defaults)
            ],
            "bentoml": lambda: [run_bentoml(load, model)],
            "ort": lambda: [run_ort(load, model)],
        }
        for name in only:
            print(f"{name}: {seconds:g} s per concurrency in {concurrencies} ...", flush=True)
            peers += runners[name]()
    load_after = os.getloadavg()

    print()
    where = "a network namespace of its own (loopback only)" if in_netns else "host loopback"
    print(
        f"{cores()} cores; {seconds:g} s measured per row after {warmup:g} s warm-up; "
        f"one row per request; in {where}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after"
    )
    print_table(peers, concurrencies)
    print(
        "client CPU: the load generator's process (one core = 100%); server CPU: ms of CPU "
        "per request answered, all the peer's processes together (for sapwood the gateway's "
        "and the replica's; ray: driver, GCS, raylet, proxy, replicas; bentoml: all workers); "
        "for ort both are the in-process loop's CPU (ONNX Runtime's threads included)"
    )

    by_label = {peer.label: peer for peer in peers}

    def fig(label: str, c: int) -> Figures:
        peer = by_label.get(label)
        return peer.figures.get(c, Figures()) if peer else Figures()

    rps = fig("sapwood (gw)", 64).rps
    overhead = fig("sapwood (gw)", 1).p50_ms - fig("sapwood (direct)", 1).p50_ms
    ray, bento = fig("ray", 64).rps, fig("bentoml", 64).rps

    def ratio(peer_rps: float) -> float:
        return rps / peer_rps if peer_rps > 0 else math.nan

    print(f"gateway p50 overhead at concurrency 1: {overhead:.3f} ms")
    print(
        f"RESULT serving: rps_c64={rps:.0f} ratio_vs_ray={ratio(ray):.2f} "
        f"ratio_vs_bentoml={ratio(bento):.2f} gateway_p50_overhead_ms={overhead:.3f} "
        f"rps_c64_direct={fig('sapwood (direct)', 64).rps:.0f} ray_rps_c64={ray:.0f} "
        f"bentoml_rps_c64={bento:.0f} ort_rps_c64={fig('ort (in-process)', 64).rps:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
