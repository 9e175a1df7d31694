"""Moving an alias rolls the Services that name it, on SQLite and PostgreSQL: each gets a new
generation (the controller's rolling update) and a ModelAliasMoved event."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.client import ConflictError
from sapwood.testing.documents import model_service
from tests.support import Api
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio

V1 = mlp_model(features=6, classes=2, seed=0)
V2 = mlp_model(features=6, classes=2, seed=1)


def service(name: str, model: str, *, team: str = "default", **spec: Any) -> dict[str, Any]:
    """A Service serving ``model``, in the default team unless told otherwise."""
    return model_service(name, model, team=team, **spec)


async def versions(api: Api, *names: str, team: str = "default") -> dict[str, tuple[int, int]]:
    """(generation, resourceVersion) of each service."""
    found = {}
    for name in names:
        meta = (await api.admin.get("service", name, team=team)).metadata
        found[name] = (meta.generation, meta.resource_version)
    return found


async def alias_events(api: Api, name: str, team: str = "default") -> list[str]:
    events = await api.admin.events("service", name, team=team)
    return [e.message for e in events if e.reason == "ModelAliasMoved"]


async def test_moving_an_alias_rolls_the_services_that_name_it(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", alias="production", team="default")
    await api.admin.push_model(V2, name="clf", team="default")
    await api.admin.push_model(V1, name="other", alias="production", team="default")
    await api.admin.apply(
        [
            service("web", "clf@production"),
            service("trial", "other@1", canary={"model": "clf@production", "weight": 10}),
            service("pinned", "clf@2"),
            service("elsewhere", "other@production"),
        ]
    )
    names = ("web", "trial", "pinned", "elsewhere")
    before = await versions(api, *names)

    await api.admin.set_alias("clf", "production", 2, team="default")

    after = await versions(api, *names)
    for name in ("web", "trial"):
        assert after[name] == (before[name][0] + 1, before[name][1] + 1)
        assert await alias_events(api, name) == [
            f"clf@production now points at version 2 (was 1): "
            f"rolling out generation {after[name][0]}"
        ]
    for name in ("pinned", "elsewhere"):
        assert after[name] == before[name]
        assert await alias_events(api, name) == []
    assert (await api.admin.resolve_model("clf@production", team="default")).version == 2


async def test_setting_an_alias_to_its_version_changes_no_service(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", alias="production", team="default")
    await api.admin.apply([service("web", "clf@production")])
    before = await versions(api, "web")

    await api.admin.set_alias("clf", "production", 1, team="default")
    # Pushing bytes the alias already points at moves nothing either.
    await api.admin.push_model(V1, name="clf", alias="production", team="default")

    assert await versions(api, "web") == before
    assert await alias_events(api, "web") == []


async def test_a_push_that_moves_the_alias_rolls_too(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", alias="production", team="default")
    await api.admin.apply([service("web", "clf@production")])
    [generation, _] = (await versions(api, "web"))["web"]

    pushed = await api.admin.push_model(V2, name="clf", alias="production", team="default")

    assert pushed.version == 2
    assert (await versions(api, "web"))["web"][0] == generation + 1
    assert await alias_events(api, "web") == [
        f"clf@production now points at version 2 (was 1): rolling out generation {generation + 1}"
    ]


async def test_services_of_other_teams_do_not_roll(api: Api) -> None:
    await api.admin.create_team("beta")
    for team in ("default", "beta"):
        await api.admin.push_model(V1, name="clf", alias="production", team=team)
        await api.admin.push_model(V2, name="clf", team=team)
        await api.admin.apply([service("web", "clf@production", team=team)])
    before = await versions(api, "web", team="beta")

    await api.admin.set_alias("clf", "production", 2, team="default")

    assert await versions(api, "web", team="beta") == before
    assert await alias_events(api, "web", team="beta") == []


async def test_an_alias_a_service_names_still_cannot_be_deleted(api: Api) -> None:
    await api.admin.push_model(V1, name="clf", alias="production", team="default")
    await api.admin.apply([service("web", "clf@production")])
    before = await versions(api, "web")

    with pytest.raises(ConflictError, match="clf@production is used by service\\(s\\) web"):
        await api.admin.delete_alias("clf", "production", team="default")

    assert await versions(api, "web") == before
    assert (await api.admin.resolve_model("clf@production", team="default")).version == 1
