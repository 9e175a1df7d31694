"""Which version a reference names, and which services a version or alias serves."""

from __future__ import annotations

import pytest

from sapwood.schemas.models import alias_problem, split_model_ref
from sapwood.server.registry.resolve import resolve, services_naming_alias, services_using

VERSIONS = {1, 2, 4}
ALIASES = {"production": 2, "staging": 4, "old": 3}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("1", 1),
        ("4", 4),
        ("3", None),  # deleted
        ("production", 2),
        ("staging", 4),
        ("old", None),  # points at a version that is gone
        ("latest", 4),
        ("nope", None),
    ],
)
def test_resolve(ref: str, expected: int | None) -> None:
    assert resolve(ref, VERSIONS, ALIASES) == expected


def test_an_alias_named_latest_wins_over_the_newest_version() -> None:
    assert resolve("latest", VERSIONS, {"latest": 1}) == 1
    assert resolve("latest", set(), {}) is None


def test_split_model_ref() -> None:
    assert split_model_ref("antinex@production") == ("antinex", "production")
    assert split_model_ref("antinex@3") == ("antinex", "3")
    assert split_model_ref("antinex") == ("antinex", "latest")


@pytest.mark.parametrize("alias", ["production", "staging", "v2", "blue-green", "2024a"])
def test_valid_aliases(alias: str) -> None:
    assert alias_problem(alias) is None


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("3", "all digits"),
        ("007", "all digits"),
        ("Prod", "invalid"),
        ("-x", "invalid"),
        ("", "invalid"),
    ],
)
def test_invalid_aliases_say_why(alias: str, why: str) -> None:
    problem = alias_problem(alias)
    assert problem is not None
    assert why in problem


SERVICES: dict[str, dict[str, object]] = {
    "web": {"model": "antinex@production"},
    "batch": {"model": "antinex@4"},
    "canary": {"model": "other@1", "canary": {"model": "antinex@staging", "weight": 10}},
    "plain": {"command": ["python", "-m", "http.server"]},
}


def test_services_using_a_version_directly_by_alias_or_as_canary() -> None:
    assert services_using("antinex", 2, SERVICES, versions=VERSIONS, aliases=ALIASES) == ["web"]
    assert services_using("antinex", 4, SERVICES, versions=VERSIONS, aliases=ALIASES) == [
        "batch",
        "canary",
    ]
    assert services_using("antinex", 1, SERVICES, versions=VERSIONS, aliases=ALIASES) == []
    assert services_using("other", 1, SERVICES, versions={1}, aliases={}) == ["canary"]


def test_services_naming_an_alias() -> None:
    assert services_naming_alias("antinex", "production", SERVICES) == ["web"]
    assert services_naming_alias("antinex", "staging", SERVICES) == ["canary"]
    assert services_naming_alias("other", "production", SERVICES) == []
