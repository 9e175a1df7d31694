"""Who may read, write and manage a team's objects."""

from __future__ import annotations

import pytest

from sapwood.schemas import Role
from sapwood.server.services.access import (
    Caller,
    can_manage,
    can_read,
    can_write,
    default_team,
    readable_teams,
    require_admin,
    require_read,
    require_write,
)
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError


def caller(*, admin: bool = False, **roles: Role) -> Caller:
    return Caller(user="ada", admin=admin, roles=roles)


SYSTEM_ADMIN = caller(admin=True)
TEAM_ADMIN = caller(ml=Role.ADMIN)
MEMBER = caller(ml=Role.MEMBER)
VIEWER = caller(ml=Role.VIEWER)
OUTSIDER = caller(web=Role.ADMIN)

# who: (read, write, manage) on team "ml"
MATRIX = [
    pytest.param(SYSTEM_ADMIN, True, True, True, id="system-admin"),
    pytest.param(TEAM_ADMIN, True, True, True, id="team-admin"),
    pytest.param(MEMBER, True, True, False, id="member"),
    pytest.param(VIEWER, True, False, False, id="viewer"),
    pytest.param(OUTSIDER, False, False, False, id="outsider"),
]


@pytest.mark.parametrize(("who", "read", "write", "manage"), MATRIX)
def test_role_matrix(who: Caller, read: bool, write: bool, manage: bool) -> None:
    assert can_read(who, "ml") is read
    assert can_write(who, "ml") is write
    assert can_manage(who, "ml") is manage


@pytest.mark.parametrize(("who", "read", "write", "manage"), MATRIX)
def test_require_read_and_write_follow_the_matrix(
    who: Caller, read: bool, write: bool, manage: bool
) -> None:
    del manage
    if read:
        require_read(who, "ml", "job/train")
    else:
        with pytest.raises(NotFoundError):
            require_read(who, "ml", "job/train")
    if write:
        require_write(who, "ml", "job/train")
    else:
        with pytest.raises((NotFoundError, ForbiddenError)):
            require_write(who, "ml", "job/train")


def test_outsider_is_told_not_found_so_names_do_not_leak() -> None:
    for check in (require_read, require_write):
        with pytest.raises(NotFoundError) as info:
            check(OUTSIDER, "ml", "job/train")
        assert info.value.message == "job/train not found in team ml"
        assert info.value.code == "not_found"


def test_viewer_is_forbidden_to_write_and_told_why() -> None:
    with pytest.raises(ForbiddenError) as info:
        require_write(VIEWER, "ml", "job/train")
    assert info.value.message == "you are a viewer of team ml and cannot change job/train"
    assert info.value.hint == "ask a team admin for the member role"
    assert info.value.code == "forbidden"


def test_roles_in_one_team_give_nothing_in_another() -> None:
    assert not can_read(TEAM_ADMIN, "web")
    assert not can_write(MEMBER, "web")
    assert not can_manage(TEAM_ADMIN, "web")


def test_require_admin() -> None:
    require_admin(SYSTEM_ADMIN, "create teams")
    with pytest.raises(ForbiddenError, match="only admins can create teams"):
        require_admin(TEAM_ADMIN, "create teams")


def test_readable_teams() -> None:
    assert readable_teams(SYSTEM_ADMIN) is None
    assert readable_teams(caller(web=Role.VIEWER, ml=Role.MEMBER)) == ["ml", "web"]
    assert readable_teams(caller()) == []


@pytest.mark.parametrize(
    ("who", "team"),
    [
        pytest.param(caller(ml=Role.VIEWER), "ml", id="only-team"),
        pytest.param(caller(admin=True, ml=Role.MEMBER), "ml", id="admin-with-one-team"),
        pytest.param(caller(admin=True), "default", id="admin-without-teams"),
        pytest.param(
            caller(default=Role.MEMBER, ml=Role.ADMIN), "default", id="several-one-default"
        ),
    ],
)
def test_default_team(who: Caller, team: str) -> None:
    assert default_team(who) == team


def test_default_team_with_no_team_asks_for_one() -> None:
    with pytest.raises(InvalidError) as info:
        default_team(caller())
    assert info.value.message == "user ada belongs to no team"
    assert info.value.hint == "ask an admin to add you"


def test_default_team_with_several_teams_lists_them() -> None:
    with pytest.raises(InvalidError) as info:
        default_team(caller(web=Role.MEMBER, ml=Role.VIEWER))
    assert info.value.message == "you belong to several teams (ml, web): say which one"
    assert info.value.hint is not None
    assert "metadata.team" in info.value.hint
    assert "--team" in info.value.hint


def test_system_admin_with_several_teams_must_still_choose() -> None:
    with pytest.raises(InvalidError, match="several teams"):
        default_team(caller(admin=True, web=Role.MEMBER, ml=Role.VIEWER))
