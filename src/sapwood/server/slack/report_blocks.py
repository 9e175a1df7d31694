"""How the reports look in Slack: environments, the queue, jobs, capacity, help and logs.

Pure: functions of plain data (objects, queue entries, the overview's groups) and ``now``.
Slack caps a message at 50 blocks and a section at 3,000 characters, so a list shows at most
``MAX_ROWS`` items and then says how many more there are and where to see them all; a text
longer than a section is cut, saying so. Whatever a user wrote (names are DNS labels, but
reasons, messages and logs are free text) is escaped for mrkdwn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sapwood.schemas import Object, Phase, QueueEntry
from sapwood.server.services.overview import Group, amount_text
from sapwood.server.slack.blocks import OPEN, button_value, expires_at, open_url
from sapwood.server.slack.commands import help_text
from sapwood.server.slack.message import Attachment, Block, Message, context, section

MAX_ROWS = 20  # items shown in one list; 50 blocks is Slack's limit per message
SECTION_CHARS = 3000  # Slack's limit on a section's text
NO_CONTROLLER = "this server runs no controller, so capacity is unknown"
_CUT = "…"
_FENCE = "```"


def escape(text: str) -> str:
    """Text shown as is in mrkdwn: ``&``, ``<`` and ``>`` are Slack's control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_CHARS) -> str:
    """``text`` within ``limit`` characters, ending in … when it was cut."""
    return text if len(text) <= limit else text[: limit - len(_CUT)] + _CUT


def ago(then: datetime, now: datetime) -> str:
    """``5s ago``, ``3m ago``, ``2h ago``, ``4d ago``: the largest whole unit."""
    seconds = int((_utc(now) - _utc(then)).total_seconds())
    for unit, span in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _instant(value: object) -> datetime | None:
    """A time a status holds (ISO text); None when absent or unreadable."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def scope_words(team: str | None) -> str:
    return f"in team {team}" if team is not None else "in your teams"


def list_hint(plural: str, team: str | None) -> str:
    """The CLI command that lists everything a capped list left out."""
    return f"`sapwood get {plural}" + (f" --team {team}`" if team is not None else "`")


def capped(rows: list[Block], total: int, *, rest: str) -> list[Block]:
    """The rows shown (the first MAX_ROWS of ``total``), then a line saying how many more
    there are and where to see them (``rest``)."""
    if total <= len(rows):
        return rows
    return [*rows, context(f"and {total - len(rows)} more: {rest}")]


def phase_text(obj: Object) -> str:
    """The phase as ``sapwood get`` shows it, with the reason and message when there are."""
    if obj.metadata.deletion_timestamp is not None:
        phase = str(Phase.TERMINATING)
    else:
        phase = str(obj.phase or Phase.PENDING)
    why = [str(v) for v in (obj.status.get("reason"), obj.status.get("message")) if v]
    return phase + (f" ({escape(': '.join(why))})" if why else "")


def resources_text(spec: Mapping[str, object]) -> str:
    """``cpu 2 · memory 8Gi · 1 GPU A100``: what one replica asks for, as written."""
    res = spec.get("resources")
    res = res if isinstance(res, Mapping) else {}
    parts = [f"cpu {res.get('cpu', '500m')}", f"memory {res.get('memory', '512Mi')}"]
    gpus = res.get("gpu") or 0
    if gpus:
        model = res.get("gpuModel")
        parts.append(f"{gpus} GPU" + (f" {escape(str(model))}" if model else ""))
    return " · ".join(parts)


# environments


def env_list_message(
    workspaces: Sequence[Object], *, team: str | None, gateway_url: str, now: datetime
) -> Message:
    """The caller's environments, newest first; an Open button on each Running one."""
    if not workspaces:
        text = f"No environments {scope_words(team)}. Create one with `/sapwood env create`."
        return Message(text, [section(text)])
    ordered = sorted(workspaces, key=lambda o: o.metadata.created_at, reverse=True)
    rows = [_env_row(o, gateway_url=gateway_url, now=now) for o in ordered[:MAX_ROWS]]
    count = len(workspaces)
    title = f"{count} environment{'s' if count != 1 else ''} {scope_words(team)}"
    blocks = [section(f"*{title}*"), *capped(rows, count, rest=list_hint("workspaces", team))]
    return Message(title, blocks)


def _env_row(obj: Object, *, gateway_url: str, now: datetime) -> Block:
    meta = obj.metadata
    lines = [
        f"*{meta.name}* · team {meta.team} · {phase_text(obj)}",
        f"{resources_text(obj.spec)} · created {ago(meta.created_at, now)}"
        + _expiry_text(obj, now),
    ]
    block = section(clip("\n".join(lines)))
    if obj.phase is Phase.RUNNING and meta.deletion_timestamp is None:
        block["accessory"] = {
            "type": "button",
            "action_id": OPEN,  # the workspace message's Open: its listener acks the click
            "text": {"type": "plain_text", "text": "Open"},
            "url": open_url(gateway_url, meta.team, meta.name),
            "value": button_value(meta.team, meta.name),
        }
    return block


def _expiry_text(obj: Object, now: datetime) -> str:
    """`` · expires in 5h`` for a workspace with a time to live, `` · expired`` past it."""
    expiry = expires_at(obj)
    if expiry is None:
        return ""
    if _utc(expiry) <= _utc(now):
        return f" · expired {ago(expiry, now)}"
    return " · expires in " + ago(now, expiry).removesuffix(" ago")


# queue


def queue_message(entries: Sequence[QueueEntry], *, team: str | None, now: datetime) -> Message:
    """Waiting work in the order the scheduler considers it, and why each waits."""
    if not entries:
        text = f"Nothing is waiting {scope_words(team)}."
        return Message(text, [section(text)])
    rows = [_queue_row(e, now=now) for e in entries[:MAX_ROWS]]
    count = len(entries)
    title = f"{count} waiting {scope_words(team)}"
    rest = "`sapwood queue" + (f" --team {team}`" if team is not None else "`")
    return Message(title, [section(f"*{title}*"), *capped(rows, count, rest=rest)])


def _queue_row(entry: QueueEntry, *, now: datetime) -> Block:
    place = f"#{entry.position}" if entry.position else "new"
    since = f" · waiting since {ago(entry.waiting_since, now)}" if entry.waiting_since else ""
    lines = [
        f"{place} *{entry.kind.lower()}/{entry.name}* · team {entry.team} · "
        f"priority {escape(entry.priority)}{since}",
        escape(entry.reason),
    ]
    return section(clip("\n".join(lines)))


# jobs


def jobs_message(jobs: Sequence[Object], *, team: str | None, now: datetime) -> Message:
    """Jobs newest first: phase and reason, when they started and finished, restarts."""
    if not jobs:
        text = f"No jobs {scope_words(team)}."
        return Message(text, [section(text)])
    ordered = sorted(jobs, key=lambda o: o.metadata.created_at, reverse=True)
    rows = [_job_row(o, now=now) for o in ordered[:MAX_ROWS]]
    count = len(jobs)
    title = f"{count} job{'s' if count != 1 else ''} {scope_words(team)}"
    blocks = [section(f"*{title}*"), *capped(rows, count, rest=list_hint("jobs", team))]
    return Message(title, blocks)


def _job_row(obj: Object, *, now: datetime) -> Block:
    meta, status = obj.metadata, obj.status
    times = [f"created {ago(meta.created_at, now)}"]
    if (started := _instant(status.get("startedAt"))) is not None:
        times.append(f"started {ago(started, now)}")
    if (finished := _instant(status.get("finishedAt"))) is not None:
        times.append(f"finished {ago(finished, now)}")
    times.append(f"restarts {status.get('restarts') or 0}")
    run = status.get("run")
    if isinstance(run, int) and run > 1:
        times.append(f"run {run}")
    lines = [f"*{meta.name}* · team {meta.team} · {phase_text(obj)}", " · ".join(times)]
    return section(clip("\n".join(lines)))


# status


@dataclass(frozen=True)
class StatusView:
    """What the status report shows: per node, its capacity and what is allocated there.

    ``controller``: the runtime is read on this replica; ``nodes`` is empty when it did not
    report its capacity; ``everyone``: allocations of every team are counted (an admin),
    else only the caller's teams'."""

    controller: bool
    nodes: list[Group]
    everyone: bool
    team: str | None = None
    gpu_models: tuple[str, ...] = ()


def status_message(view: StatusView) -> Message:
    if not view.controller:
        text = f"Capacity: {NO_CONTROLLER}."
        return Message(text, [section(text)])
    if not view.nodes:
        text = "Capacity is unknown: the runtime did not report it. Try again in a moment."
        return Message(text, [section(text)])
    blocks: list[Block] = [section("*Capacity and allocation per node*")]
    for group in view.nodes[:MAX_ROWS]:
        count = group.workloads
        lines = [f"*{group.name}* · {count} workload{'s' if count != 1 else ''} holding resources"]
        for bar in group.bars:
            share = f" ({bar.percent(bar.allocated):.0f}%)" if bar.capacity else ""
            lines.append(
                f"{bar.resource}: {bar.text(bar.allocated)} allocated of "
                f"{bar.text(bar.capacity)}{share}"
            )
        if view.gpu_models:
            lines.append("GPU models: " + ", ".join(escape(m) for m in view.gpu_models))
        blocks.append(section(clip("\n".join(lines))))
    if view.team is not None:
        blocks.append(context(f"Allocated counts team {view.team}'s workloads only."))
    elif not view.everyone:
        blocks.append(context("Allocated counts your teams' workloads only."))
    summary = "; ".join(
        f"{g.name}: "
        + ", ".join(f"{b.resource} {amount_text(b.resource, b.allocated)}" for b in g.bars)
        for g in view.nodes
    )
    return Message(f"Allocated per node: {summary}", blocks)


# help and errors


def help_message() -> Message:
    text = "*What `/sapwood` does*\n" + help_text()
    return Message("What /sapwood does: " + ", ".join(_verbs()), [section(text)])


def _verbs() -> list[str]:
    return [line.split("`")[1] for line in help_text().splitlines() if "`" in line]


def error_message(text: str) -> Message:
    """A refusal (not found, no controller, bad input) as the reply's text."""
    return Message(text, [section(escape(text))])


# logs


def log_message(
    kind: str,
    team: str,
    name: str,
    tail: bytes,
    *,
    lines: int,
    cut: bool,
    file_bytes: int,
) -> Message:
    """The last ``lines`` lines of ``tail`` (a replica's log, or its end when ``cut``) in a
    code block when they fit in a section; else the last ``file_bytes`` of it as a file,
    with as many last lines as fit in the code block."""
    ref = f"{kind.lower()}/{name}"
    if not tail:
        text = f"{ref} in team {team} has written no log yet."
        return Message(text, [section(text)])
    text = tail.decode("utf-8", errors="replace")
    all_lines = text.splitlines()
    last = all_lines[-lines:]
    room = SECTION_CHARS - 2 * len(_FENCE) - 2
    shown, whole = _fit_lines(last, room)
    earlier = cut or len(all_lines) > len(last)
    head = f"Last {len(shown)} lines of {ref} in team {team}"
    block = section(f"{_FENCE}\n{chr(10).join(shown)}\n{_FENCE}")
    hint = f"All of it: `sapwood logs {kind.lower()} {name} --team {team}`"
    if whole:
        blocks = [section(f"*{head}*"), block]
        if earlier:
            blocks.append(context(hint))
        return Message(head, blocks)
    data = tail[-file_bytes:]
    size = amount_text("memory", len(data))
    note = f"The log of {ref} in team {team} is too long to show here: its last {size} is attached"
    attachment = Attachment(filename=f"{name}.log", content=data, title=f"{ref} log ({team})")
    return Message(note, [section(note), block, context(hint)], file=attachment)


def _fit_lines(lines: list[str], room: int) -> tuple[list[str], bool]:
    """The last of ``lines`` that fit in ``room`` characters once escaped (a longer last
    line is cut at its start), with no ``` left to end the code block early; True when
    all of them fit whole."""
    out: list[str] = []
    used = 0
    for line in reversed(lines):
        safe = escape(line).replace(_FENCE, "`\u200b``")
        if used + len(safe) + 1 > room:
            if not out:
                out.append(_CUT + safe[-(room - 2) :])
            out.reverse()
            return out, False
        out.append(safe)
        used += len(safe) + 1
    out.reverse()
    return out, True
