"""`sapwood describe`: one object for people: metadata, spec summary, status, events."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import typer

from sapwood.cli.events import event_table
from sapwood.cli.feed_output import feed_lines, feed_spec_summary
from sapwood.cli.output import (
    compact,
    format_age,
    format_labels,
    format_table,
    print_out,
    replicas_text,
    title_words,
)
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.cli.utilisation import latest_usage, utilisation_lines
from sapwood.cli.workspace_url import gateway_base, workspace_url
from sapwood.schemas import Event, Object, Phase
from sapwood.specs.objects import kind_of

_WIDTH = 14  # label column: "Termination:  " and the like line up


def describe(
    kind: str = typer.Argument(..., help="workspace/ws, job, service/svc or feed"),
    name: str = typer.Argument(..., help="the object's name"),
    team: str | None = TEAM_OPTION,
) -> None:
    """Show one object in detail, with its recent events."""
    canonical = kind_of(kind)
    with connect(team=team) as client:
        obj = client.get(canonical, name)
        events = client.events(canonical, name, team=obj.metadata.team)
        usage = {}
        if obj.phase is Phase.RUNNING:
            usage = latest_usage(
                client.list_metrics(canonical, name, team=obj.metadata.team, limit=1)
            )
        figures = client.feed_figures(name, team=obj.metadata.team) if obj.kind == "Feed" else None
        gateway = gateway_base(client.url, os.environ)
    text = describe_text(obj, events, now=datetime.now(UTC), usage=usage, gateway=gateway)
    if figures is not None:
        text = text.replace("\nEvents:", "\n" + "\n".join(feed_lines(figures)) + "\nEvents:", 1)
    print_out(text)


def describe_text(
    obj: Object,
    events: Sequence[Event],
    *,
    now: datetime,
    usage: Mapping[str, tuple[float, datetime]] | None = None,
    gateway: str | None = None,
) -> str:
    """``gateway`` (its address as users reach it) adds where to open a workspace."""
    meta = obj.metadata
    lines = [
        _field("Name", meta.name),
        _field("Kind", obj.kind),
        _field("Team", meta.team),
        _field("Labels", format_labels(meta.labels)),
        _field("UID", meta.uid),
        _field("Generation", str(meta.generation)),
        _field("Created", _moment(meta.created_at, now)),
        _field("Updated", _moment(meta.updated_at, now)),
    ]
    if meta.deletion_timestamp is not None:
        lines.append(_field("Deleting", "since " + _moment(meta.deletion_timestamp, now)))
    lines.append("Spec:")
    lines += [_field(label, value, indent=2) for label, value in spec_summary(obj.kind, obj.spec)]
    lines.append("Status:")
    status = {k: v for k, v in obj.status.items() if k not in ("replicas", "history")}
    if status:
        lines += [_field(title_words(k), compact(v), indent=2) for k, v in status.items()]
    else:
        lines.append("  <none yet>")
    if obj.kind == "Workspace" and gateway is not None:
        url = workspace_url(gateway, meta.team, meta.name)
        lines.append(_field("Open", f"{url}?token=sw_… (a member's token, once per browser)"))
    replicas = obj.status.get("replicas")
    if isinstance(replicas, list) and replicas:
        lines.append("Replicas:")
        lines += ["  " + line for line in replica_table(replicas).splitlines()]
    earlier = obj.status.get("history")
    if isinstance(earlier, list) and earlier:
        lines.append("Earlier runs:")
        lines += ["  " + line for line in runs_table(earlier, now=now).splitlines()]
    usage_lines = utilisation_lines(usage or {}, now=now)
    if usage_lines:
        lines.append("Utilisation:")
        lines += ["  " + line for line in usage_lines]
    if events:
        lines.append("Events:")
        lines += ["  " + line for line in event_table(events, now=now).splitlines()]
    else:
        lines.append("Events:       <none>")
    return "\n".join(lines)


def runs_table(history: Sequence[Any], *, now: datetime) -> str:
    """A Job's earlier runs (status.history), newest first."""
    rows = []
    for run in reversed(history):
        if not isinstance(run, Mapping):
            continue
        finished = run.get("finishedAt")
        ended = f"{format_age(datetime.fromisoformat(finished), now)} ago" if finished else "-"
        rows.append(
            [
                str(run.get("run", "?")),
                str(run.get("phase", "-")),
                str(run.get("reason", "-")),
                ended,
                str(run.get("message", "")),
            ]
        )
    return format_table(["RUN", "PHASE", "REASON", "FINISHED", "MESSAGE"], rows)


def spec_summary(kind: str, spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields people look for first, as (label, text); absent ones are left out."""
    out: list[tuple[str, str]] = []
    command = spec.get("command")
    if command:
        out.append(("Command", command if isinstance(command, str) else shlex.join(command)))
    for key in ("model", "tool", "image", "workdir"):
        if spec.get(key):
            out.append((title_words(key), str(spec[key])))
    resources = spec.get("resources")
    if isinstance(resources, Mapping):
        text = ", ".join(f"{k} {resources[k]}" for k in ("cpu", "memory", "gpu") if k in resources)
        out.append(("Resources", text))
    if "priority" in spec:
        out.append(("Priority", str(spec["priority"])))
    if kind in ("Job", "Service") and "replicas" in spec:
        out.append(("Replicas", replicas_text(spec["replicas"])))
    for key in ("readiness", "liveness"):
        if isinstance(spec.get(key), Mapping):
            out.append((title_words(key), probe_text(spec[key])))
    for key in ("restart", "retries", "activeDeadline", "idleTimeout", "paused"):
        if spec.get(key) is not None:
            out.append((title_words(key), compact(spec[key])))
    if kind == "Feed":
        out += feed_spec_summary(spec)
    if spec.get("env"):
        out.append(("Env", ", ".join(sorted(spec["env"]))))
    if spec.get("volumes"):
        volumes = [f"{v.get('name')}:{v.get('mountPath')}" for v in spec["volumes"]]
        out.append(("Volumes", ", ".join(volumes)))
    return out


def probe_text(probe: Mapping[str, Any]) -> str:
    """``http :$PORT/healthz every 10s, timeout 1s, 3 failures``."""
    if isinstance(probe.get("http"), Mapping):
        http = probe["http"]
        what = f"http :{http.get('port') or '$PORT'}{http.get('path') or '/'}"
    elif isinstance(probe.get("tcp"), Mapping):
        what = f"tcp :{probe['tcp'].get('port') or '$PORT'}"
    elif isinstance(probe.get("exec"), Mapping):
        what = "exec " + " ".join(probe["exec"].get("command") or [])
    else:
        what = "?"
    text = what + (f" every {probe['period']}" if probe.get("period") else "")
    if probe.get("timeout"):
        text += f", timeout {probe['timeout']}"
    if probe.get("failureThreshold"):
        text += f", {probe['failureThreshold']} failures"
    return text


def _field(label: str, value: str, *, indent: int = 0) -> str:
    return " " * indent + f"{label}:".ljust(max(_WIDTH - indent, len(label) + 2)) + value


def _moment(then: datetime, now: datetime) -> str:
    return f"{then.isoformat(timespec='seconds')} ({format_age(then, now)} ago)"


def replica_table(replicas: Sequence[Any]) -> str:
    """One row per replica: its state, readiness, restarts, process and last exit."""
    rows = []
    for item in replicas:
        if not isinstance(item, Mapping):
            continue
        last = item.get("lastExit")
        exit_text = "-"
        if isinstance(last, Mapping):
            code = last.get("code")
            exit_text = (
                f"{last.get('reason')} ({code})" if code is not None else str(last.get("reason"))
            )
        rows.append(
            (
                str(item.get("index", "?")),
                str(item.get("state", "")),
                "yes" if item.get("ready") else "no",
                str(item.get("restarts", 0)),
                str(item.get("pid") or "-"),
                str(item.get("port") or "-"),
                exit_text,
            )
        )
    headers = ("REPLICA", "STATE", "READY", "RESTARTS", "PID", "PORT", "LAST EXIT")
    return format_table(headers, rows)
