"""List chunking (`limit` and `continue`) as the API server does it over etcd.

A list with `limit` answers at most that many items and, when more remain, a `continue`
token in its metadata with `remainingItemCount`. The token names the resourceVersion of
the first page and the last key sent; the next page starts after that key. A token whose
version has been compacted away answers 410 Gone with the server's own message (etcd can
no longer give a consistent snapshot), and the client must list again from the start.
The double serves later pages from the current objects rather than a snapshot: what
changed between pages may show up, as the real server says happens after 410.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from sapwood.testing.kube_store import ApiError, Obj

EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@dataclass(frozen=True)
class Page:
    items: list[Obj]
    version: int  # the list's resourceVersion (the first page's, for later pages)
    token: str  # "" on the last page
    remaining: int


def _item_key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def encode_token(version: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": version, "start": start})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_token(token: str) -> tuple[int, str]:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(body["rv"]), str(body["start"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {error}") from error


def paginate(items: list[Obj], *, version: int, limit: str, token: str, compacted_at: int) -> Page:
    """One page of `items` (sorted by namespace/name as etcd keys are)."""
    ordered = sorted(items, key=_item_key)
    if token:
        version, start = decode_token(token)
        if version < compacted_at:
            raise ApiError(410, "Expired", EXPIRED_CONTINUE)
        ordered = [obj for obj in ordered if _item_key(obj) > start]
    size = int(limit) if limit else 0
    if size <= 0 or len(ordered) <= size:
        return Page(ordered, version, "", 0)
    page = ordered[:size]
    return Page(page, version, encode_token(version, _item_key(page[-1])), len(ordered) - size)
