"""What a post of records may leave out, and what a repeated batch id must match. Pure.

A post that lacks a feature column is refused unless the client (``?fillMissing=true``)
or the feed (``spec.ingest.fillMissing``) opts in to the schema's values: a silent -1 in
every attack row's missing fields made the model call them "not attack". A batch id
names one body: its fingerprint is stored with the batch, and the same id with another
body is refused, as Stripe does with idempotency keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from sapwood.specs.feeds import Column

SHOWN = 10  # column names spelled out in a message; the rest are counted


def fingerprint(body: bytes, content_type: str) -> str:
    """The sha256 of the media type and the body: the same bytes in another format are
    another request."""
    media = content_type.split(";")[0].strip().lower() or "application/json"
    digest = hashlib.sha256(media.encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def missing_features(
    names: Collection[str], columns: Sequence[Column], features: Collection[str]
) -> list[str]:
    """The feature columns (in schema order) that the records do not carry."""
    return [c.name for c in columns if c.name in features and c.name not in names]


def filled_columns(
    names: Collection[str], columns: Sequence[Column], features: Collection[str]
) -> list[str]:
    """The absent columns that filling gives a value: every absent feature (its default,
    or null when it has none and is nullable) and any absent column with a default."""
    return [
        c.name
        for c in columns
        if c.name not in names and (c.default is not None or c.name in features)
    ]


def listed(names: Sequence[str]) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def missing_message(missing: Sequence[str], *, total: int) -> str:
    return (
        f"the records lack {len(missing)} of the feed's {total} feature columns: "
        f"{listed(missing)}; nothing was stored"
    )


MISSING_HINT = (
    "send every feature column, or opt in to the schema's declared values for the absent "
    "ones: ?fillMissing=true (sapwood feed push --fill-missing) or spec.ingest.fillMissing: "
    "true on the feed"
)


def filled_message(filled: Sequence[str]) -> str:
    return f"filled {len(filled)} missing column(s) with the schema's values: {listed(filled)}"


def replayed_message(key: str) -> str:
    return f"batch {key} was already pushed: nothing stored"


def conflict_message(key: str) -> str:
    return f"batch id {key} was already pushed with different records; nothing was stored"


CONFLICT_HINT = (
    "a batch id names one body: send the same body again, or use a new batch id for new records"
)
