"""Utilisation in words, for `sapwood describe`: what a running workload uses of its request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sapwood.cli.output import format_age
from sapwood.schemas import MetricSeries

PREFIX = "sapwood."


def latest_usage(series: Sequence[MetricSeries]) -> dict[str, tuple[float, datetime]]:
    """The newest value and time of each utilisation series (``sapwood.*``)."""
    out = {}
    for item in series:
        if item.name.startswith(PREFIX) and item.points:
            point = item.points[-1]
            out[item.name.removeprefix(PREFIX)] = (point.value, point.time)
    return out


def utilisation_lines(usage: Mapping[str, tuple[float, datetime]], *, now: datetime) -> list[str]:
    """``CPU 12% of 2 cores requested (0.24 used)`` and the like; empty without samples."""
    values = {name: value for name, (value, _) in usage.items()}
    if "cpu_percent" not in values:
        return []
    lines = []
    used, asked = values["cpu_percent"], values.get("cpu_requested_percent", 0.0)
    lines.append(
        f"CPU {_share(used, asked)} of {_count(asked / 100, 'core')} requested"
        f" ({used / 100:.2f} used)"
    )
    memory, memory_asked = values.get("memory_bytes", 0.0), values.get("memory_requested_bytes")
    text = f"memory {_bytes(memory)}"
    if memory_asked:
        text = f"memory {_share(memory, memory_asked)} of {_bytes(memory_asked)} requested"
        text += f" ({_bytes(memory)} used)"
    lines.append(text)
    gpu_asked = values.get("gpu_requested_percent")
    if gpu_asked:
        gpu = values.get("gpu_percent")
        used_text = "unknown" if gpu is None else _share(gpu, gpu_asked)
        line = f"GPU {used_text} of {_count(gpu_asked / 100, 'GPU')} requested"
        if values.get("gpu_memory_bytes") is not None:
            line += f", GPU memory {_bytes(values['gpu_memory_bytes'])}"
        lines.append(line)
    newest = max(moment for _, moment in usage.values())
    lines.append(f"sampled {format_age(newest, now)} ago")
    return lines


def _share(used: float, asked: float) -> str:
    return "?%" if asked <= 0 else f"{round(100 * used / asked)}%"


def _count(amount: float, noun: str) -> str:
    return f"{amount:g} {noun}{'' if amount == 1 else 's'}"


def _bytes(value: float) -> str:
    for unit, size in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{int(value)}B"
