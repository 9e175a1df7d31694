"""'Did you mean …?' for a mistyped name: pure, shared by the CLI and the server."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's similarity (0..1) a candidate needs to be offered: 'jbos' -> 'jobs' is 0.75,
# 'hello-trian' -> 'hello-train' 0.91, while 'pods' -> 'jobs' (0.5) is not a typo.
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str], *, ignore_case: bool = False) -> str | None:
    """The candidate most like ``word`` when one is close enough, else None; ``word``
    itself is never offered. Candidates come back as given, even with ``ignore_case``."""
    pool = {c.lower() if ignore_case else c: c for c in candidates}
    key = word.lower() if ignore_case else word
    pool.pop(key, None)
    matches = difflib.get_close_matches(key, list(pool), n=1, cutoff=CUTOFF)
    return pool[matches[0]] if matches else None


def did_you_mean(word: str, candidates: Iterable[str], *, ignore_case: bool = False) -> str:
    """``"; did you mean 'jobs'?"`` to append to an error message, or ``""``."""
    match = closest(word, candidates, ignore_case=ignore_case)
    return f"; did you mean {match!r}?" if match is not None else ""
