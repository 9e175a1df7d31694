"""Trace loaders: jobs and the cluster they are replayed on.

Philly (Pollux workload-N.csv): a job of ``num_replicas`` GPUs is a gang of
``num_replicas`` replicas of 1 GPU (+ 4 CPU, 16 GiB) on 16 nodes of 4 GPUs (32 CPU,
256 GiB), so GPUs are what binds. Its run time is app_durations.csv's ``duration_s`` for
its (application, num_replicas, batch_size): the uncontended run time at exactly that
GPU count with the GPUs packed onto 4-GPU nodes (Pollux's per-application model, not
the raw Philly duration). Every combination in workloads 1-8 is in that file.

Alibaba 2023 (openb_pod_list_default.csv): a pod is one replica asking for its
``cpu_milli``, ``memory_mib`` and ``num_gpu`` GPUs; run time = deletion_time -
creation_time. See ``alibaba`` for what is kept and the cluster it runs on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sapwood.server.controller.plan.scheduler.model import Node, Resources
from sim.engine import SimJob

GIB = 1024**3
MIB = 1024**2


@dataclass
class Trace:
    name: str
    nodes: list[Node]
    jobs: list[SimJob]
    notes: list[str]


def philly(
    directory: Path, workload: int = 6, *, nodes: int = 16, gpus_per_node: int = 4, teams: int = 1
) -> Trace:
    durations: dict[tuple[str, int, int], float] = {}
    with (directory / "app_durations.csv").open() as f:
        for row in csv.DictReader(f):
            key = (row["application"], int(row["num_replicas"]), int(row["batch_size"]))
            durations[key] = float(row["duration_s"])
    replica = Resources(cpu_millis=4000, memory_bytes=16 * GIB, gpus=1)
    node_size = Resources(cpu_millis=32000, memory_bytes=256 * GIB, gpus=gpus_per_node)
    cluster = [Node(f"node-{i:02d}", node_size) for i in range(nodes)]
    jobs = []
    with (directory / f"workload-{workload}.csv").open() as f:
        for index, row in enumerate(csv.DictReader(f)):
            count = int(row["num_replicas"])
            key = (row["application"], count, int(row["batch_size"]))
            jobs.append(
                SimJob(
                    uid=row["name"],
                    arrival=float(row["time"]),
                    duration=durations[key],
                    replica=replica,
                    count=count,
                    team=f"team-{index % teams}" if teams > 1 else "philly",
                )
            )
    notes = [
        f"{len(jobs)} jobs, {nodes} nodes x {gpus_per_node} GPUs; "
        f"{sum(j.gpus * j.duration for j in jobs) / 3600:.1f} GPU-hours of work"
    ]
    if teams > 1:
        notes.append(f"{teams} teams, jobs assigned round-robin in file order")
    return Trace(f"philly-workload-{workload}", cluster, jobs, notes)


def alibaba(directory: Path, *, from_day: float = 119.0, node_stride: int = 60) -> Trace:
    """Pods created on or after ``from_day`` (the busy last month: ~90% of all pods),
    GPU pods only (CPU-only pods are dropped), fractional-GPU pods (gpu_milli < 1000)
    rounded up to one whole GPU, pods still running when the trace ends dropped (they
    never complete, so they have no JCT), zero-length pods dropped. The cluster is every
    ``node_stride``-th node of openb_node_list_gpu_node.csv (file order, so the model
    mix is kept), and pods no node of that sample could ever hold are dropped."""
    rows = list(csv.DictReader((directory / "openb_pod_list_default.csv").open()))
    end = max(int(r["deletion_time"]) for r in rows)
    start = int(from_day * 86400)
    node_rows = list(csv.DictReader((directory / "openb_node_list_gpu_node.csv").open()))
    cluster = [
        Node(
            r["sn"],
            Resources(int(r["cpu_milli"]), int(r["memory_mib"]) * MIB, int(r["gpu"])),
            gpu_model=r["model"] or None,
        )
        for r in node_rows[::node_stride]
    ]
    skipped = {"cpu-only": 0, "before-window": 0, "running-at-end": 0, "zero-length": 0}
    skipped["never-fits"] = 0
    rounded = 0
    jobs = []
    for r in rows:
        created, deleted = int(r["creation_time"]), int(r["deletion_time"])
        gpus = int(r["num_gpu"])
        if gpus == 0:
            skipped["cpu-only"] += 1
            continue
        if created < start:
            skipped["before-window"] += 1
            continue
        if deleted >= end:
            skipped["running-at-end"] += 1
            continue
        if deleted <= created:
            skipped["zero-length"] += 1
            continue
        if int(r["gpu_milli"]) < 1000:
            rounded += 1
        replica = Resources(int(r["cpu_milli"]), int(r["memory_mib"]) * MIB, gpus)
        if not any(replica.fits_in(n.allocatable) for n in cluster):
            skipped["never-fits"] += 1
            continue
        jobs.append(
            SimJob(
                uid=r["name"],
                arrival=float(created - start),
                duration=float(deleted - created),
                replica=replica,
                team="alibaba",
            )
        )
    gpus_total = sum(n.allocatable.gpus for n in cluster)
    notes = [
        f"{len(jobs)} pods from day {from_day:g} on; {len(cluster)} nodes (every "
        f"{node_stride}th) with {gpus_total} GPUs; {rounded} fractional-GPU pods rounded up "
        f"to 1 GPU; dropped: " + ", ".join(f"{k} {v}" for k, v in skipped.items()),
        f"{sum(j.gpus * j.duration for j in jobs) / 3600:.0f} GPU-hours of work",
    ]
    return Trace("alibaba-2023", cluster, jobs, notes)
