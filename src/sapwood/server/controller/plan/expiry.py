"""A workspace's time to live: when it runs out, and what its status says about it.

``spec.ttl`` counts from the object's creation, so the expiry is ``createdAt + ttl``; an
extension (services/extend.py) rewrites ``ttl`` to move it. Once it has passed, the
controller pauses the workspace (``pausing.plan_expired``); until then the plan asks for
a look at that moment (``Plan.due``) so no pass has to poll for it. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sapwood.schemas.status import Reason
from sapwood.server.controller.plan.view import ObjectView, Plan
from sapwood.specs.objects import Workspace
from sapwood.specs.quantity import format_duration, parse_duration

EXPIRED = Reason.EXPIRED.value  # status reason and event of a workspace whose ttl ran out
EXPIRES_AT = "expiresAt"  # the status key (WorkspaceStatus.expires_at)


def ttl_of(view: ObjectView) -> timedelta | None:
    """The object's time to live; None when it has none (or its kind has none)."""
    obj = view.obj
    return obj.spec.ttl if isinstance(obj, Workspace) else None


def expires_at(view: ObjectView) -> datetime | None:
    """When the object's time to live runs out; None when it has none."""
    return expiry_of(view.created_at, ttl_of(view))


def stored_ttl(spec: Mapping[str, Any]) -> timedelta | None:
    """The time to live a stored spec (its JSON, as the API's services read it) holds."""
    value = spec.get("ttl")
    return None if value is None else parse_duration(value)


def expiry_of(created_at: datetime, ttl: timedelta | None) -> datetime | None:
    """``created_at + ttl``; None without a ttl (what the API's services compute too)."""
    return None if ttl is None else created_at + ttl


def when(moment: datetime) -> str:
    """A moment in words for a message, to the minute: ``2026-12-08 14:02 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def expiry_message(ttl: timedelta, expired: datetime) -> str:
    """What the status and the event of an expired workspace say."""
    return (
        f"time to live {format_duration(ttl)} ran out at {when(expired)}; extend it to use it again"
    )


def with_expiry(view: ObjectView, plan: Plan, *, now: datetime) -> Plan:
    """The plan with ``status.expiresAt`` kept to the spec (dropped without a ttl) and, while
    the expiry is ahead, ``due`` at it. ``plan`` is changed and returned."""
    if plan.remove:
        return plan
    expires = expires_at(view)
    current = plan.status if plan.status is not None else view.status
    wanted = expires.isoformat() if expires is not None else None
    if current.get(EXPIRES_AT) != wanted:
        status = dict(current)
        if wanted is None:
            status.pop(EXPIRES_AT, None)
        else:
            status[EXPIRES_AT] = wanted
        plan.status = status
    if expires is not None and expires > now:
        plan.due = expires if plan.due is None else min(plan.due, expires)
    return plan
