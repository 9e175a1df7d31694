"""Teams, users, memberships and tokens on the wire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator

from sapwood.schemas.base import WireModel
from sapwood.specs.base import Duration, Name, duration_schema
from sapwood.specs.quantity import MAX_DURATION


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Membership(WireModel):
    team: Name
    role: Role


class TeamRequest(WireModel):
    name: Name


class Team(WireModel):
    name: str
    created_at: datetime


class UserRequest(WireModel):
    name: Name
    # strict: 0 or "no" is not a boolean, and must not quietly mean one.
    admin: bool = Field(default=False, strict=True, description="may do everything, in every team")
    teams: list[Membership] = Field(default_factory=list)


class User(WireModel):
    name: str
    admin: bool
    teams: list[Membership]
    created_at: datetime


class MembershipRequest(WireModel):
    role: Role


# What the schema promises for a token's lifetime: above 0s (the validator below says so).
Lifetime = Annotated[Duration, duration_schema(timedelta(milliseconds=1), MAX_DURATION)]


class TokenRequest(WireModel):
    user: Name | None = Field(default=None, description="defaults to the caller; admins only")
    description: str = Field(default="", max_length=200)
    expires_in: Lifetime | None = Field(
        default=None, description="lifetime above 0s; leave it out for a token that never expires"
    )

    @field_validator("expires_in")
    @classmethod
    def _positive_lifetime(cls, value: timedelta | None) -> timedelta | None:
        # 0s used to mean "never": a lifetime of nothing is a mistake, not a wish.
        if value is not None and value <= timedelta(0):
            raise ValueError("must be above 0s; leave it out for a token that never expires")
        return value


class Token(WireModel):
    """A token as listed: never its secret."""

    id: str
    user: str
    description: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class TokenCreated(Token):
    """Returned once, at creation: ``token`` is the secret and is not stored."""

    token: str


class WhoAmI(WireModel):
    user: str
    admin: bool
    teams: list[Membership]
    token_id: str


def implied_team(teams: Iterable[str], *, admin: bool) -> str | None:
    """The team meant when a request names none: the caller's only team, else
    ``default`` when the caller is in it (or is an admin of no team); None when that is
    ambiguous or the caller has no team. The server's apply and the CLI's render share it."""
    ordered = sorted(teams)
    if len(ordered) == 1:
        return ordered[0]
    if "default" in ordered or (admin and not ordered):
        return "default"
    return None
