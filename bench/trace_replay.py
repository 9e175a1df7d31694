"""Trace replay: GPU-cluster job traces through Sapwood's scheduler, FIFO and LAS.

    .venv/bin/python bench/trace_replay.py [--data /work/shared/data/traces]
        [--skip-alibaba] [--skip-teams] [--las-threshold-gpu-h 16]

One discrete-event simulator (bench/sim) with a simulated clock replays each trace
through three policies:
- sapwood: the real ``schedule(...)`` at every event (a job arrives or completes), with
  only the pending and running jobs; what it admits starts on the nodes it chose, what it
  preempts stops (keeping its progress) and is queued again, and the simulator asks again
  at the same instant (at most 3 times) so the job the room was made for starts. Every job
  has priority 0 and one team whose guaranteed quota is the whole cluster; default
  ``Policy()`` unless ``--sapwood`` says otherwise (e.g. ``--sapwood fair_share=true``).
- fifo: strict first-in-first-out with head-of-line blocking, no backfill, no preemption.
- las: Tiresias-style discretized 2D least-attained-service: two queues split at
  ``--las-threshold-gpu-h`` GPU-hours of attained service (default 16, as far as we know
  the value of Pollux's Tiresias baseline), FIFO inside each, greedy (skips what does not
  fit), preemptive, no starvation promotion, no restart penalty.

Traces (see bench/sim/traces.py for the exact mapping):
- Philly, Pollux workload-6 (160 jobs, 8 h of arrivals) on 16 nodes x 4 GPUs; a job is
  a gang of num_replicas 1-GPU replicas and runs for app_durations.csv's duration_s of
  its (application, num_replicas, batch_size). Pollux reports Tiresias at 3,470 s
  average JCT on it.
- Philly workload-6 again with 4 teams (round-robin), each guaranteed 16 GPUs, max 48,
  fair_share on: checks that no team ever holds more GPUs than its max. With
  ``--teams-without-fair-share`` also fair_share off, stopped after ``--stop-after-calls``
  schedule() calls: with the scheduler as of this writing it livelocks there (preempted
  jobs are re-admitted ahead of the job they were preempted for, which preempts again).
- Alibaba 2023 GPU pods from day 119 (the busy last month), fractional GPUs rounded up to
  one GPU, on every 200th GPU node (7 nodes, 26 GPUs), so that there is contention.

Metrics: JCT = completion - arrival; p95 nearest rank; makespan = last completion - first
arrival; GPU utilisation = GPU-seconds of work / (GPUs x makespan); wait = JCT - run time
(all the time a job was not running). Ends with one line ``RESULT trace: ...``;
ratio_jct_vs_X = X's average JCT / Sapwood's (above 1: Sapwood is better).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from sapwood.server.controller.plan.scheduler.model import Policy, Quota, Resources
from sim import traces
from sim.engine import Result, Simulator
from sim.policies import FifoPolicy, LasPolicy, SapwoodPolicy

DEFAULT_DATA = Path("/work/shared/data/traces")


def sapwood_policy(overrides: list[str]) -> Policy:
    """``Policy`` with ``field=value`` overrides (bool, int, float or a string)."""
    fields = {f.name: f for f in dataclasses.fields(Policy)}
    values: dict[str, object] = {}
    for item in overrides:
        key, _, raw = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--sapwood: Policy has no field {key!r} (has {', '.join(fields)})")
        value: object = raw
        if key == "service_levels":
            value = tuple(float(v) for v in raw.split(",") if v)
        elif raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    pass
        values[key] = value
    return Policy(**values)  # type: ignore[arg-type]


def line(r: Result) -> str:
    extra = f", {r.finished}/{r.jobs} finished" if r.finished != r.jobs else ""
    return (
        f"  {r.policy:<22} avg JCT {r.avg_jct:9.0f} s  p95 {r.p95_jct:9.0f} s  "
        f"makespan {r.makespan:9.0f} s  GPU util {r.utilisation:6.1%}  "
        f"avg wait {r.avg_wait:9.0f} s  preemptions {r.preemptions:6d}  "
        f"[{r.decide_calls} policy calls in {r.decide_s:.1f} s, run {r.wall_s:.1f} s{extra}]"
    )


def report(r: Result) -> None:
    print(line(r), flush=True)
    if r.invalid:
        print(f"    {len(r.invalid)} decisions refused by the simulator, e.g. {r.invalid[0]}")


def whole_cluster_quota(trace: traces.Trace, team: str) -> dict[str, Quota]:
    total = sum((n.allocatable for n in trace.nodes), Resources())
    return {team: Quota(guaranteed=total)}


def run_trace(
    trace: traces.Trace, team: str, policy: Policy, las_threshold_s: float
) -> dict[str, Result]:
    print(f"{trace.name}: " + "; ".join(trace.notes), flush=True)
    sim = Simulator(trace.nodes, trace.jobs, trace=trace.name, max_rounds=3)
    results = {}
    for p in (
        SapwoodPolicy(whole_cluster_quota(trace, team), policy),
        FifoPolicy(),
        LasPolicy(las_threshold_s),
    ):
        results[p.name] = r = sim.run(p)
        report(r)
    return results


def run_teams(trace: traces.Trace, policy: Policy, without_fair: bool, cap: int) -> None:
    total = sum((n.allocatable for n in trace.nodes), Resources())
    teams = sorted({j.team for j in trace.jobs})
    share = Resources(*(v // len(teams) for v in total.values()))
    ceiling = Resources(*(v * 3 // 4 for v in total.values()))
    quotas = {t: Quota(guaranteed=share, max=ceiling) for t in teams}
    print(
        f"{trace.name}, {len(teams)} teams: each guaranteed {share.gpus} GPUs, max {ceiling.gpus}",
        flush=True,
    )
    sim = Simulator(trace.nodes, trace.jobs, trace=trace.name, quotas=quotas, max_rounds=3)
    for fair in (True, False) if without_fair else (True,):
        p = dataclasses.replace(policy, fair_share=fair)
        sapwood = SapwoodPolicy(quotas, p, name=f"sapwood fair_share={fair}", max_calls=cap)
        r = sim.run(sapwood)
        report(r)
        if sapwood.stopped:
            print(f"    stopped after {cap} schedule() calls at t={sapwood.stopped:.0f} s")
        over = ", ".join(f"{t} by {g} GPUs" for t, g in sorted(r.team_over_max.items()))
        print(f"    teams above their max at any time: {over or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="traces directory")
    parser.add_argument("--workload", type=int, default=6, help="Pollux workload number")
    parser.add_argument("--las-threshold-gpu-h", type=float, default=16.0)
    parser.add_argument(
        "--service-levels-gpu-h",
        default="16",
        help="Sapwood's service levels (SchedulingSettings.service_levels_hours), comma "
        "separated GPU-hours; empty turns them off [default: 16, LAS's threshold]",
    )
    parser.add_argument("--alibaba-node-stride", type=int, default=200)
    parser.add_argument("--alibaba-from-day", type=float, default=119.0)
    parser.add_argument("--skip-alibaba", action="store_true")
    parser.add_argument("--skip-teams", action="store_true", help="skip the 4-team run")
    parser.add_argument("--teams-without-fair-share", action="store_true")
    parser.add_argument("--stop-after-calls", type=int, default=20_000)
    parser.add_argument(
        "--sapwood",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a Policy field for the sapwood runs (repeatable), e.g. fair_share=true",
    )
    args = parser.parse_args()

    philly_dir = args.data / "philly-pollux"
    alibaba_dir = args.data / "alibaba-gpu-v2023"
    if not (philly_dir / f"workload-{args.workload}.csv").exists():
        print(f"trace data not found under {args.data} (need {philly_dir}); skipping")
        print("RESULT trace: skipped=1")
        return 0
    overrides = list(args.sapwood)
    if args.service_levels_gpu_h and not any(o.startswith("service_levels=") for o in overrides):
        levels = ",".join(str(float(h) * 3600) for h in args.service_levels_gpu_h.split(","))
        overrides.append(f"service_levels={levels}")
    policy = sapwood_policy(overrides)
    las_s = args.las_threshold_gpu_h * 3600
    print(f"sapwood policy: {policy}; LAS threshold {args.las_threshold_gpu_h:g} GPU-hours")

    philly = run_trace(traces.philly(philly_dir, args.workload), "philly", policy, las_s)
    keys = {
        "ratio_jct_vs_fifo": philly["fifo"].avg_jct / philly["sapwood"].avg_jct,
        "ratio_jct_vs_las": philly["las"].avg_jct / philly["sapwood"].avg_jct,
        "utilisation": philly["sapwood"].utilisation,
    }
    if not args.skip_teams:
        trace = traces.philly(philly_dir, args.workload, teams=4)
        run_teams(trace, policy, args.teams_without_fair_share, args.stop_after_calls)
    if not args.skip_alibaba and (alibaba_dir / "openb_pod_list_default.csv").exists():
        trace = traces.alibaba(
            alibaba_dir, from_day=args.alibaba_from_day, node_stride=args.alibaba_node_stride
        )
        ali = run_trace(trace, "alibaba", policy, las_s)
        keys["alibaba_ratio_jct_vs_fifo"] = ali["fifo"].avg_jct / ali["sapwood"].avg_jct
        keys["alibaba_ratio_jct_vs_las"] = ali["las"].avg_jct / ali["sapwood"].avg_jct
        keys["alibaba_utilisation"] = ali["sapwood"].utilisation
    print("RESULT trace: " + " ".join(f"{k}={v:.3f}" for k, v in keys.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
