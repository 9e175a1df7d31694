"""How the CLI shows things: ages, plain tables, object rows, YAML and JSON documents.

Everything here except the two ``print_*`` helpers is a pure function of its arguments
(``now`` is passed in), so the formatting is tested without a server or a terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from rich.console import Console

from sapwood.schemas import Object, Phase
from sapwood.schemas.status import read_target

Row = tuple[str, ...]

NONE = "<none>"
_GAP = "   "


def format_age(then: datetime, now: datetime) -> str:
    """``5s``, ``3m``, ``2h``, ``4d``: the largest whole unit, as kubectl shows ages."""
    seconds = int((as_utc(now) - as_utc(then)).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


def format_remaining(until: datetime, now: datetime) -> str:
    """Time left, rounded to the nearest unit: a token made for 30d reads ``30d``, not 29d."""
    seconds = (as_utc(until) - as_utc(now)).total_seconds()
    for unit, span in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{round(seconds / span)}{unit}"
    return f"{max(round(seconds), 0)}s"


def as_utc(moment: datetime) -> datetime:
    """The moment with a time zone: the server speaks UTC, so a naive one means UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, no borders, no trailing spaces."""
    table = [tuple(headers), *(tuple(r) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [_GAP.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join(line.rstrip() for line in lines)


def format_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or NONE


def kind_word(kind: str) -> str:
    """``job`` for ``Job``: how a kind reads in ``job/train created``."""
    return kind.lower()


def object_ref(obj: Object) -> str:
    return f"{kind_word(obj.kind)}/{obj.metadata.name}"


# tables of objects


def object_headers(kind: str, *, wide: bool = False) -> Row:
    headers: Row = ("NAME", "TEAM", "PHASE")
    if kind == "Service":
        headers += ("READY",)
    if kind in ("Job", "Service"):
        headers += ("RESTARTS",)
    if kind == "Feed":
        headers += ("MODEL", "WORKERS", "BACKLOG")
    headers += ("AGE",)
    if wide:
        headers += ("CPU", "MEMORY", "GPU", "PRIORITY", "LABELS")
    return headers


def object_row(obj: Object, *, now: datetime, wide: bool = False) -> Row:
    """One row under :func:`object_headers` for the object's kind."""
    meta = obj.metadata
    row: Row = (meta.name, meta.team, display_phase(obj))
    if obj.kind == "Service":
        row += (ready_text(obj),)
    if obj.kind in ("Job", "Service"):
        row += (str(obj.status.get("restarts") or 0),)
    if obj.kind == "Feed":
        wanted = _text(read_target(obj.status).workers)
        workers = f"{obj.status.get('readyReplicas', 0)}/{wanted}"
        row += (_text(obj.spec.get("model")), workers, _text(obj.status.get("backlog", 0)))
    row += (format_age(meta.created_at, now),)
    if wide:
        resources = obj.spec.get("resources") or {}
        row += (
            _text(resources.get("cpu")),
            _text(resources.get("memory")),
            _text(resources.get("gpu")),
            _text(obj.spec.get("priority")),
            format_labels(meta.labels),
        )
    return row


def object_table(kind: str, objects: Sequence[Object], *, now: datetime, wide: bool = False) -> str:
    rows = [object_row(o, now=now, wide=wide) for o in objects]
    return format_table(object_headers(kind, wide=wide), rows)


def display_phase(obj: Object) -> str:
    if obj.metadata.deletion_timestamp is not None:
        return Phase.TERMINATING
    return obj.phase or "-"


def ready_text(obj: Object) -> str:
    """``2/1..3``: ready replicas over the spec's bounds (``2/2`` when min equals max)."""
    ready = obj.status.get("readyReplicas") or 0
    return f"{ready}/{replicas_text(obj.spec.get('replicas'))}"


def replicas_text(replicas: object) -> str:
    """``3`` for a job's count or a fixed service, ``1..3`` for an autoscaled one."""
    if isinstance(replicas, Mapping):
        low, high = replicas.get("min", "?"), replicas.get("max", "?")
        return str(low) if low == high else f"{low}..{high}"
    return _text(replicas)


def _text(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


# documents


def object_document(obj: Object) -> dict[str, Any]:
    """The object as ``sapwood apply -f`` reads it back: camelCase, status included."""
    body = obj.model_dump(mode="json", by_alias=True)
    if body["metadata"].get("deletionTimestamp") is None:
        body["metadata"].pop("deletionTimestamp", None)
    return body


def objects_document(objects: Sequence[Object]) -> dict[str, Any]:
    return {"items": [object_document(o) for o in objects]}


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def title_words(key: str) -> str:
    """``readyReplicas`` -> ``Ready replicas``: status keys as describe shows them."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    return words[:1].upper() + words[1:]


def compact(value: object) -> str:
    """A value on one line: scalars as they are, lists and mappings as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    return str(value)


# terminal


def print_out(text: str) -> None:
    """Writes to stdout as is: no markup, emoji codes, highlighting or wrapping at the width."""
    _console(stderr=False).print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def print_err(text: str, *, style: str | None = None) -> None:
    _console(stderr=True).print(
        text, markup=False, highlight=False, emoji=False, soft_wrap=True, style=style
    )


def _console(*, stderr: bool) -> Console:
    # Built per call so it writes to whatever sys.stdout/sys.stderr are now (tests swap them).
    return Console(stderr=stderr)
