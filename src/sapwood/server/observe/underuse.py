"""Under-utilisation: a workload using less than X% of its requested CPU or GPU for Y minutes.

`judge_underuse` is the pure decision over the utilisation samples of one object's window;
`UnderuseWatch` runs it for every rule with the ``underutilised`` event over the running
objects of the rule's team, and reports each episode once: again only after the object
has used more than the threshold (or stopped running) in between. An object whose alerts
were dismissed (``underuse_dismissals``, Slack's "Dismiss for a day") is passed over
until the dismissal ends; an episode that outlasts it is reported then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select

from sapwood.schemas import NotificationEvent, Phase
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MetricRow, ObjectRow, RuleRow, UnderuseDismissalRow
from sapwood.specs.base import Resources
from sapwood.specs.selectors import matches, parse_selector

# Where a window must begin and end to count as covered, as a share of its length.
COVERAGE_SLACK = 0.1
# Samples come one interval apart, a little more when a pass runs late: a window is covered
# when its first and last samples lie within this many intervals of its ends.
INTERVAL_SLACK = 1.5
HEADROOM = 1.5  # suggest the peak plus half again
CPU_STEPS = (0.25, 0.5)  # below one core; whole cores above


@dataclass(frozen=True)
class Sample:
    """One utilisation sample of an object: used and requested, 100 = one core or GPU."""

    time: datetime
    used: float
    requested: float


@dataclass(frozen=True)
class Underuse:
    resource: str  # "cpu" | "gpu"
    peak: float  # the most used per replica, in cores or GPUs
    requested: float  # per replica, in cores or GPUs
    suggested: float  # per replica
    message: str


def judge_underuse(
    samples: Sequence[Sample],
    *,
    resource: str,
    per_replica: float,
    threshold_percent: float,
    window: timedelta,
    now: datetime,
    sample_interval: timedelta = timedelta(0),
) -> Underuse | None:
    """Under-used when samples cover the whole window and every one of them used less than
    ``threshold_percent`` of what was requested. ``per_replica`` is the request of one
    replica (cores or GPUs); ``sample_interval`` is how often samples are taken. None when
    not under-used, or when the samples cannot tell."""
    start = now - window
    inside = sorted((s for s in samples if start <= s.time <= now), key=lambda s: s.time)
    slack = coverage_slack(window, sample_interval)
    if per_replica <= 0 or not inside:
        return None
    if inside[0].time > start + slack or inside[-1].time < now - slack:
        return None  # the samples do not cover the window: unknown
    if any(s.requested <= 0 for s in inside):
        return None
    ratio = max(s.used / s.requested for s in inside)
    if ratio * 100 >= threshold_percent:
        return None
    peak = ratio * per_replica
    suggested = suggest(resource, peak)
    unit = "CPU" if resource == "cpu" else "GPU"
    minutes = int(window.total_seconds() // 60)
    advice = (
        "request no GPU (run on CPU)"
        if suggested == 0
        else f"request {_number(suggested)} {unit}{'' if suggested <= 1 else 's'}"
    )
    message = (
        f"used at most {peak:.2f} of {_number(per_replica)} {unit}"
        f"{'' if per_replica <= 1 else 's'} over {minutes} min "
        f"(under {_number(threshold_percent)}% of the request); {advice}"
    )
    return Underuse(resource, round(peak, 3), per_replica, suggested, message)


def coverage_slack(window: timedelta, sample_interval: timedelta) -> timedelta:
    """How far from each end of ``window`` its first and last samples may lie and still
    cover it: a tenth of the window, but never less than the gap between two samples
    (with room for a late one), or a window of one minute sampled every 15 s would never
    count as covered."""
    return max(window * COVERAGE_SLACK, sample_interval * INTERVAL_SLACK)


def suggest(resource: str, peak: float) -> float:
    """What to request per replica: the peak with headroom, in steps a request takes."""
    wanted = peak * HEADROOM
    if resource == "gpu":
        return float(math.ceil(wanted)) if wanted > 0.01 else 0.0
    for step in CPU_STEPS:
        if wanted <= step:
            return step
    return float(math.ceil(wanted))


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Finding:
    """An under-use episode that just began, for one rule and one object."""

    rule: RuleRow
    obj: ObjectRow
    underuse: Underuse


class UnderuseWatch:
    """Remembers the episodes already reported (in memory: a restart may report one again).
    ``sample_interval`` is how often the utilisation monitor samples."""

    def __init__(self, sample_interval: timedelta = timedelta(seconds=15)) -> None:
        self.sample_interval = sample_interval
        self._open: set[tuple[str, str, str, str]] = set()  # (team, rule, uid, resource)

    async def check(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        rule_params: dict[tuple[str, str], tuple[float, timedelta]],
    ) -> list[Finding]:
        """New episodes across every rule with the ``underutilised`` event."""
        event = NotificationEvent.UNDERUTILISED.value
        rules = [r for r in await session.scalars(select(RuleRow)) if event in r.events]
        teams = {r.team for r in rules}
        objects = [
            o
            for o in await session.scalars(select(ObjectRow).where(ObjectRow.team.in_(teams)))
            if (o.status or {}).get("phase") == Phase.RUNNING
        ]
        dismissed = await _dismissed(session, [o.uid for o in objects], now)
        objects = [o for o in objects if o.uid not in dismissed]
        findings: list[Finding] = []
        seen: set[tuple[str, str, str, str]] = set()
        longest = max((p[1] for p in rule_params.values()), default=timedelta(0))
        series = await _load_samples(session, [o.uid for o in objects], now - longest * 1.2)
        for rule in sorted(rules, key=lambda r: (r.team, r.name)):
            threshold, window = rule_params[(rule.team, rule.name)]
            for obj in objects:
                if obj.team != rule.team or not _selected(rule, obj):
                    continue
                resources = _resources(obj)
                if resources is None:
                    continue
                for resource, per_replica in (
                    ("cpu", resources.cpu / 1000),
                    ("gpu", float(resources.gpu)),
                ):
                    key = (rule.team, rule.name, obj.uid, resource)
                    verdict = judge_underuse(
                        series.get((obj.uid, resource), []),
                        resource=resource,
                        per_replica=per_replica,
                        threshold_percent=threshold,
                        window=window,
                        now=now,
                        sample_interval=self.sample_interval,
                    )
                    if verdict is None:
                        continue
                    seen.add(key)
                    if key not in self._open:
                        findings.append(Finding(rule, obj, verdict))
        self._open = seen  # an episode ends when its verdict does
        return findings


async def _dismissed(session: AsyncSession, uids: list[str], now: datetime) -> set[str]:
    """The objects among ``uids`` whose under-use alerts are dismissed at ``now``."""
    if not uids:
        return set()
    query = select(UnderuseDismissalRow.uid).where(
        UnderuseDismissalRow.uid.in_(uids), UnderuseDismissalRow.until > now
    )
    return set(await session.scalars(query))


async def _load_samples(
    session: AsyncSession, uids: list[str], since: datetime
) -> dict[tuple[str, str], list[Sample]]:
    if not uids:
        return {}
    names = {
        "sapwood.cpu_percent": ("cpu", "used"),
        "sapwood.cpu_requested_percent": ("cpu", "requested"),
        "sapwood.gpu_percent": ("gpu", "used"),
        "sapwood.gpu_requested_percent": ("gpu", "requested"),
    }
    query = select(MetricRow.uid, MetricRow.metric, MetricRow.value, MetricRow.time).where(
        MetricRow.uid.in_(uids), MetricRow.metric.in_(names), MetricRow.time >= since
    )
    pairs: dict[tuple[str, str, datetime], dict[str, float]] = {}
    for uid, metric, value, time in await session.execute(query):
        resource, part = names[metric]
        pairs.setdefault((uid, resource, time), {})[part] = value
    out: dict[tuple[str, str], list[Sample]] = {}
    for (uid, resource, time), parts in pairs.items():
        if "used" in parts and "requested" in parts:
            out.setdefault((uid, resource), []).append(
                Sample(time, parts["used"], parts["requested"])
            )
    return out


def _selected(rule: RuleRow, obj: ObjectRow) -> bool:
    if not rule.selector:
        return True
    try:
        return matches(parse_selector(rule.selector), dict(obj.labels))
    except ValueError:
        return False


def _resources(obj: ObjectRow) -> Resources | None:
    try:
        return Resources.model_validate((obj.spec or {}).get("resources") or {})
    except ValidationError:
        return None
