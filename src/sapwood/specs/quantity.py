"""Resource quantities and durations, parsed the way Kubernetes users write them.

CPU is held as whole millicores (``500m`` -> 500, ``1.5`` -> 1500), memory as bytes
(``512Mi``, ``4Gi``, ``10G``), durations as ``timedelta`` (``30s``, ``5m``, ``1h30m``).
Every parser raises ``ValueError`` with a message that says what is allowed; the
formatters give the canonical spelling, and ``parse(format(x)) == x`` always holds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sapwood.specs.ranges import integers

MAX_CPU_MILLIS = 4096 * 1000
MAX_MEMORY_BYTES = 64 * 1024**4  # 64Ti: more than any single machine or pod gets
MAX_GPUS = 1024
MAX_DURATION = timedelta(days=365)

_BINARY = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_DURATION_UNITS = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}

CPU_HELP = "a CPU count such as 2, 1.5 or 500m"
MEMORY_HELP = "a memory size such as 512Mi, 4Gi or 10G"
DURATION_HELP = "a duration such as 30s, 5m, 2h or 1h30m"


def cpu_pattern() -> str:
    """A JSON Schema pattern for the CPU strings that are always accepted: whole CPUs,
    decimals to 1m, or millicores, from 0 to 4096 CPUs (exponents and signs are accepted
    too, but not advertised)."""
    cpus = MAX_CPU_MILLIS // 1000
    return (
        f"^(?:{integers(0, cpus)}|{integers(0, cpus - 1)}\\.\\d{{1,3}}"
        f"|{integers(0, MAX_CPU_MILLIS)}m)$"
    )


def memory_pattern() -> str:
    """A JSON Schema pattern for the memory strings that are always accepted: a whole
    number of bytes, or of a unit, from 0 to 64Ti (decimals and exponents are accepted too,
    but not advertised)."""
    forms = [integers(0, MAX_MEMORY_BYTES)]
    for suffix, factor in (*_BINARY.items(), *_DECIMAL.items()):
        if MAX_MEMORY_BYTES // factor:
            forms.append(integers(0, MAX_MEMORY_BYTES // factor) + suffix)
    return "^(?:" + "|".join(forms) + ")$"


# Units of a canonical duration, largest first, and the most each holds under the next.
_CANONICAL = (
    ("d", 86_400_000, None),
    ("h", 3_600_000, 23),
    ("m", 60_000, 59),
    ("s", 1000, 59),
    ("ms", 1, 999),
)


def duration_pattern(low: timedelta, high: timedelta) -> str:
    """A JSON Schema pattern for duration strings from ``low`` to ``high`` that are always
    accepted: one unit (``90m``, ``36h``), canonical parts (``1h30m``, as the server writes
    them), or plain seconds. Decimals (``1.5h``) are accepted too, but not advertised."""
    low_ms, high_ms = _millis(low), _millis(high)
    forms = []
    for unit, span in (*((u, s) for u, s, _ in _CANONICAL), ("", 1000)):
        first, last = -(-low_ms // span), high_ms // span
        if first <= last:
            forms.append(integers(first, last) + unit)
    for lead, (unit, span, cap) in enumerate(_CANONICAL[:-1]):
        # The lead part, then any smaller parts: each under one of the next unit up.
        first = max(1, -(-low_ms // span))
        last = (high_ms - span + 1) // span
        last = last if cap is None else min(cap, last)
        if first <= last:
            rest = "".join(f"(?:{integers(0, c or 0)}{u})?" for u, _, c in _CANONICAL[lead + 1 :])
            forms.append(integers(first, last) + unit + rest)
    return "^(?:" + "|".join(forms) + ")$"


def _millis(value: timedelta) -> int:
    return round(value.total_seconds() * 1000)


def _split(text: str, what: str) -> tuple[Decimal, str]:
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not {what}")
    return Decimal(match.group(1)), match.group(2)


def parse_cpu(value: object) -> int:
    """Millicores from ``2``, ``1.5``, ``"500m"`` or ``"2"``; 1m is the finest grain."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected {CPU_HELP}, got {type(value).__name__}")
    number, suffix = _split(str(value), CPU_HELP)
    if suffix not in ("m", ""):
        raise ValueError(f"unknown CPU unit {suffix!r} in {value!r}: use a plain number or 'm'")
    try:
        millis = number if suffix == "m" else number * 1000
        whole = millis == millis.to_integral_value()
    except ArithmeticError:  # exponents past what Decimal holds
        raise ValueError(
            f"cpu {value!r} is out of range: must be between 0 and 4096 CPUs"
        ) from None
    if millis > MAX_CPU_MILLIS or millis < 0:
        raise ValueError(f"cpu {value!r} is out of range: must be between 0 and 4096 CPUs")
    if not whole:
        raise ValueError(f"{value!r} is finer than 1m (one thousandth of a CPU)")
    result = int(millis)
    _check_range(result, 0, MAX_CPU_MILLIS, f"cpu {value!r}", "between 0 and 4096 CPUs")
    return result


def parse_memory(value: object) -> int:
    """Bytes from ``"512Mi"``, ``"4Gi"``, ``"10G"``, ``"1e9"`` or a plain integer."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected {MEMORY_HELP}, got {type(value).__name__}")
    number, suffix = _split(str(value), MEMORY_HELP)
    factor = {**_BINARY, **_DECIMAL, "": 1}.get(suffix)
    if factor is None:
        allowed = ", ".join([*_BINARY, *_DECIMAL])
        raise ValueError(f"unknown memory unit {suffix!r} in {value!r}: use one of {allowed}")
    try:
        size = number * factor
        whole = size == size.to_integral_value()
    except ArithmeticError:  # exponents past what Decimal holds
        raise ValueError(f"memory {value!r} is out of range: must be between 0 and 64Ti") from None
    if size > MAX_MEMORY_BYTES or size < 0:
        raise ValueError(f"memory {value!r} is out of range: must be between 0 and 64Ti")
    if not whole:
        raise ValueError(f"{value!r} is not a whole number of bytes")
    result = int(size)
    _check_range(result, 0, MAX_MEMORY_BYTES, f"memory {value!r}", "between 0 and 64Ti")
    return result


def parse_gpus(value: object) -> int:
    """A whole, non-negative number of GPUs; ``2.0`` is 2 (JSON does not tell them apart)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a whole number of GPUs, got {type(value).__name__}")
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"{value!r} is not a whole number of GPUs")
    result = int(text)
    _check_range(result, 0, MAX_GPUS, f"gpu {value!r}", f"between 0 and {MAX_GPUS}")
    return result


def parse_duration(value: object) -> timedelta:
    """A timedelta from ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"`` or plain seconds."""
    if isinstance(value, bool) or not isinstance(value, timedelta | int | float | str):
        raise ValueError(f"expected {DURATION_HELP}, got {type(value).__name__}")
    out_of_range = ValueError(f"duration {value!r} must be between 0s and 365d")
    try:
        if isinstance(value, timedelta):
            result = value
        elif isinstance(value, int | float):
            result = timedelta(seconds=value)
        else:
            result = _parse_duration_text(value)
    except OverflowError:  # past timedelta's range, or infinite
        raise out_of_range from None
    if result < timedelta(0) or result > MAX_DURATION:
        raise out_of_range
    # Millisecond grain keeps format_duration an exact inverse.
    return timedelta(milliseconds=round(result.total_seconds() * 1000))


def _parse_duration_text(text: str) -> timedelta:
    compact = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", compact):
        return timedelta(seconds=float(compact))
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not {DURATION_HELP}")
    return sum((float(n) * _DURATION_UNITS[u] for n, u in parts), timedelta(0))


def _check_range(value: int, low: int, high: int, what: str, allowed: str) -> None:
    if value < low or value > high:
        raise ValueError(f"{what} is out of range: must be {allowed}")


def format_cpu(millis: int) -> str:
    """``"2"`` for whole cores, ``"1500m"`` otherwise."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(size: int) -> str:
    """The largest binary unit that divides the size exactly (``"512Mi"``), else bytes."""
    for suffix, factor in reversed(_BINARY.items()):
        if size and size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def format_duration(value: timedelta) -> str:
    """``"1h30m"``, ``"45s"``, ``"250ms"``; ``"0s"`` for zero."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    out = []
    for unit, span in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, total_ms = divmod(total_ms, span)
        if count:
            out.append(f"{count}{unit}")
    if total_ms:
        out.append(f"{total_ms}ms")
    return "".join(out)
