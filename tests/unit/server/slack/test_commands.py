"""What ``/sapwood …`` asks for, who may create an environment, and which deliveries are
one interaction: the pure parts of the command handling."""

from __future__ import annotations

import pytest

from sapwood.schemas import Role
from sapwood.server.auth.callers import Caller
from sapwood.server.slack.commands import Command, CommandError, Verb, help_text, parse
from sapwood.server.slack.context import interaction_key, slack_user
from sapwood.server.slack.envs import cannot_create, creatable_teams


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Command(Verb.HELP)),
        ("help", Command(Verb.HELP)),
        ("env create", Command(Verb.ENV_CREATE)),
        ("  ENV   Create ", Command(Verb.ENV_CREATE)),
        ("env list --team ml", Command(Verb.ENV_LIST, team="ml")),
        ("queue", Command(Verb.QUEUE)),
        ("jobs --team ml", Command(Verb.JOBS, team="ml")),
        ("status", Command(Verb.STATUS)),
        ("link", Command(Verb.LINK)),
        ("unlink", Command(Verb.UNLINK)),
        ("logs job train", Command(Verb.LOGS, kind="Job", name="train")),
        ("logs workspace nb --team ml", Command(Verb.LOGS, kind="Workspace", name="nb", team="ml")),
    ],
)
def test_each_verb_is_understood(text: str, command: Command) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("env destroy", "`env` takes `create` or `list`"),
        ("env", "`env` takes `create` or `list`"),
        ("logs train", "`logs` takes a kind"),
        ("logs model x", "`logs` takes a kind"),
        ("jobs --team", "`--team` needs a team name"),
        ("deploy", "`deploy` is not a Sapwood command"),
        ("queue now", "`queue now` is not a Sapwood command"),
    ],
)
def test_what_is_not_a_command_says_what_is(text: str, words: str) -> None:
    with pytest.raises(CommandError, match=words):
        parse(text)


def test_help_names_every_verb() -> None:
    text = help_text()
    for verb in Verb:
        assert f"`/sapwood {verb.value}`" in text


def test_members_and_admins_of_a_team_may_create_in_it_viewers_may_not() -> None:
    caller = Caller(
        user="ana", admin=False, roles={"b": Role.MEMBER, "a": Role.ADMIN, "c": Role.VIEWER}
    )
    assert creatable_teams(caller, ["a", "b", "c", "d"]) == ["a", "b"]
    assert creatable_teams(Caller(user="root", admin=True), ["b", "a"]) == ["a", "b"]


def test_a_viewer_is_told_the_role_and_what_to_ask_for() -> None:
    one = cannot_create(Caller(user="vic", admin=False, roles={"research": Role.VIEWER}))
    assert "viewer of team research" in one
    assert "member role" in one
    two = cannot_create(Caller(user="vic", admin=False, roles={"b": Role.VIEWER, "a": Role.VIEWER}))
    assert "viewer of teams a, b" in two
    nobody = cannot_create(Caller(user="new", admin=False))
    assert "belong to no team" in nobody


def test_a_retried_delivery_is_the_same_interaction() -> None:
    command = {"command": "/sapwood", "trigger_id": "t1", "team_id": "T", "user_id": "U"}
    assert interaction_key(command) == interaction_key(dict(command)) == "command:t1"
    click = {"type": "block_actions", "trigger_id": "t2"}
    assert interaction_key(click) == "action:t2"


def test_a_submission_sent_again_after_errors_is_a_new_interaction() -> None:
    first = {"type": "view_submission", "trigger_id": "t1", "view": {"id": "V1"}}
    again = {"type": "view_submission", "trigger_id": "t2", "view": {"id": "V1"}}
    assert interaction_key(first) != interaction_key(again)
    assert interaction_key(first) == "view:V1:t1"


def test_what_needs_no_guard_has_no_key() -> None:
    assert interaction_key({"type": "view_closed", "view": {"id": "V1"}}) is None
    assert interaction_key({"type": "event_callback"}) is None


def test_the_sender_of_a_command_and_of_an_interaction() -> None:
    assert slack_user({"team_id": "T1", "user_id": "U1"}) == slack_user(
        {"team": {"id": "T1"}, "user": {"id": "U1"}}
    )
