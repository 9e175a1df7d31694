"""Formatting of teams, users and tokens, and parsing of TEAM:ROLE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer

from sapwood.cli.login import whoami_text
from sapwood.cli.teams import team_table
from sapwood.cli.tokens import created_text, token_state, token_table
from sapwood.cli.users import parse_memberships, user_table
from sapwood.schemas import Membership, Role, Team, Token, TokenCreated, User, WhoAmI

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_parse_memberships() -> None:
    assert parse_memberships(["research:member", "ml:viewer"]) == {
        "research": Role.MEMBER,
        "ml": Role.VIEWER,
    }
    with pytest.raises(typer.BadParameter, match="not one of admin, member, viewer"):
        parse_memberships(["research:owner"])
    with pytest.raises(typer.BadParameter, match="not TEAM:ROLE"):
        parse_memberships([":admin"])


def test_user_and_team_tables() -> None:
    users = [
        User(
            name="bob",
            admin=False,
            created_at=NOW - timedelta(days=2),
            teams=[
                Membership(team="research", role=Role.VIEWER),
                Membership(team="ml", role=Role.ADMIN),
            ],
        ),
        User(name="admin", admin=True, teams=[], created_at=NOW),
    ]
    assert user_table(users, now=NOW).splitlines() == [
        "NAME    ADMIN   TEAMS                           AGE",
        "admin   yes     <none>                          0s",
        "bob     no      ml (admin), research (viewer)   2d",
    ]
    assert team_table([Team(name="research", created_at=NOW)], now=NOW).splitlines() == [
        "NAME       AGE",
        "research   0s",
    ]


def token(**changes: object) -> Token:
    base: dict[str, object] = {
        "id": "tok1",
        "user": "bob",
        "description": "ci",
        "created_at": NOW - timedelta(hours=3),
    }
    return Token.model_validate({**base, **changes})


def test_token_states() -> None:
    assert token_state(token(), now=NOW) == "active"
    assert token_state(token(revoked_at=NOW), now=NOW) == "revoked"
    assert token_state(token(expires_at=NOW - timedelta(seconds=1)), now=NOW) == "expired"


def test_token_table_shows_expiry_and_last_use() -> None:
    rows = token_table(
        [
            token(expires_at=NOW + timedelta(days=30), last_used_at=NOW - timedelta(minutes=2)),
            token(id="tok2", description=""),
        ],
        now=NOW,
    ).splitlines()
    assert rows[0].split() == [
        "ID",
        "USER",
        "DESCRIPTION",
        "STATE",
        "AGE",
        "EXPIRES",
        "LAST",
        "USED",
    ]
    assert rows[1].split() == ["tok1", "bob", "ci", "active", "3h", "in", "30d", "2m", "ago"]
    assert rows[2].split() == ["tok2", "bob", "-", "active", "3h", "never", "never"]


def test_created_token_shows_its_secret_once_with_a_warning() -> None:
    created = TokenCreated(
        id="tok1", user="bob", description="", created_at=NOW, token="sw_secret_value"
    )
    text = created_text(created)
    assert text.count("sw_secret_value") == 1
    assert "will not be shown again" in text


def test_whoami_text() -> None:
    me = WhoAmI(
        user="bob",
        admin=False,
        token_id="tok1",
        teams=[Membership(team="research", role=Role.MEMBER)],
    )
    assert whoami_text(me, url="http://x").splitlines() == [
        "User:    bob",
        "Teams:   research (member)",
        "Token:   tok1",
        "Server:  http://x",
    ]
