"""Regular expressions for bounded numbers, so a JSON Schema ``pattern`` can state a range
that a parser checks (quantities, durations) rather than only their shape.

The expressions use only what ECMA-262, Python's ``re`` and Rust's ``regex`` agree on
(classes, groups, alternation, bounded repeats): no lookaround, no backreferences.
"""

from __future__ import annotations


def integers(low: int, high: int) -> str:
    """A group matching exactly the decimal integers ``low`` to ``high`` (both >= 0),
    written without leading zeros ("0" itself included when ``low`` is 0)."""
    if not 0 <= low <= high:
        raise ValueError(f"no integers from {low} to {high}")
    return "(?:" + "|".join(_up_to(high, above=low)) + ")"


def _up_to(high: int, *, above: int) -> list[str]:
    # Integers in [above, high]: split by digit count, then digit by digit.
    out = []
    for digits in range(len(str(above)), len(str(high)) + 1):
        lo = max(above, 0 if digits == 1 else 10 ** (digits - 1))
        hi = min(high, 10**digits - 1)
        if lo <= hi:
            out += _same_length(str(lo), str(hi))
    return out


def _same_length(lo: str, hi: str) -> list[str]:
    """Alternatives for the integers from ``lo`` to ``hi``, both of the same length."""
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [_digit(lo, hi)]
    if lo[0] == hi[0]:
        return [lo[0] + _group(_same_length(lo[1:], hi[1:]))]
    rest = len(lo) - 1
    out = []
    low_tail, high_tail = "0" * rest, "9" * rest
    if lo[1:] == low_tail:  # lo's first digit can take every tail
        first_full = int(lo[0])
    else:
        out.append(lo[0] + _group(_same_length(lo[1:], "9" * rest)))
        first_full = int(lo[0]) + 1
    last_full = int(hi[0]) if hi[1:] == high_tail else int(hi[0]) - 1
    if first_full <= last_full:
        out.append(_digit(str(first_full), str(last_full)) + _any_digits(rest))
    if hi[1:] != high_tail:
        out.append(hi[0] + _group(_same_length("0" * rest, hi[1:])))
    return out


def _digit(lo: str, hi: str) -> str:
    if lo == hi:
        return lo
    return "\\d" if (lo, hi) == ("0", "9") else f"[{lo}-{hi}]"


def _any_digits(count: int) -> str:
    return "\\d" if count == 1 else f"\\d{{{count}}}"


def _group(alternatives: list[str]) -> str:
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
