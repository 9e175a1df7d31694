"""Apply, get, list, delete and events through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sapwood.client import ConflictError, InvalidError, NotFoundError
from sapwood.schemas import ApplyAction
from tests.support import Api, job, service, workspace

pytestmark = pytest.mark.anyio


async def test_apply_creates_then_is_idempotent(api: Api) -> None:
    [created] = await api.admin.apply([job("train")])
    assert created.action is ApplyAction.CREATED
    assert created.object.metadata.team == "default"
    assert created.object.metadata.generation == 1
    assert created.object.phase == "Pending"

    [again] = await api.admin.apply([job("train")])
    assert again.action is ApplyAction.UNCHANGED
    assert again.object.metadata.resource_version == created.object.metadata.resource_version


async def test_equivalent_quantities_are_unchanged(api: Api) -> None:
    await api.admin.apply([job("train", resources={"cpu": 0.5, "memory": "1Gi"})])
    [again] = await api.admin.apply([job("train", resources={"cpu": "500m", "memory": 1024**3})])
    assert again.action is ApplyAction.UNCHANGED


async def test_changed_spec_bumps_generation_labels_do_not(api: Api) -> None:
    await api.admin.apply([job("train")])
    [changed] = await api.admin.apply([job("train", retries=5)])
    assert changed.action is ApplyAction.CONFIGURED
    assert changed.object.metadata.generation == 2
    assert changed.object.spec["retries"] == 5

    labelled = job("train", retries=5)
    labelled["metadata"]["labels"] = {"app": "antinex"}
    [relabelled] = await api.admin.apply([labelled])
    assert relabelled.action is ApplyAction.CONFIGURED
    assert relabelled.object.metadata.generation == 2
    assert relabelled.object.metadata.resource_version == 3
    assert relabelled.object.metadata.labels == {"app": "antinex"}


async def test_stale_resource_version_is_a_conflict(api: Api) -> None:
    [first] = await api.admin.apply([job("train")])
    await api.admin.apply([job("train", retries=1)])
    stale = job("train", retries=2)
    stale["metadata"]["resourceVersion"] = first.object.metadata.resource_version
    with pytest.raises(ConflictError) as err:
        await api.admin.apply([stale])
    assert "resourceVersion 1" in err.value.message
    assert "now 2" in err.value.message
    current = await api.admin.get("job", "train")
    assert current.spec["retries"] == 1

    fresh = job("train", retries=2)
    fresh["metadata"]["resourceVersion"] = current.metadata.resource_version
    [ok] = await api.admin.apply([fresh])
    assert ok.action is ApplyAction.CONFIGURED


async def test_invalid_third_document_writes_nothing(api: Api) -> None:
    bad = job("broken", resources={"cpu": -1})
    with pytest.raises(InvalidError) as err:
        await api.admin.apply([job("one"), service("two"), bad])
    assert "object 3 of 3" in err.value.message
    assert [d.path for d in err.value.details] == ["objects[2].spec.resources.cpu"]
    assert await api.admin.list("jobs") == []
    assert await api.admin.list("services") == []


async def test_unknown_priority_lists_the_allowed_ones(api: Api) -> None:
    with pytest.raises(InvalidError) as err:
        await api.admin.apply([job("train", priority="urgent")])
    [detail] = err.value.details
    assert detail.path == "objects[0].spec.priority"
    assert "critical, high, normal, low, best-effort" in detail.message


async def test_dry_run_validates_and_writes_nothing(api: Api) -> None:
    [result] = await api.admin.apply([job("train")], dry_run=True)
    assert result.action is ApplyAction.CREATED
    with pytest.raises(NotFoundError):
        await api.admin.get("job", "train")


async def test_apply_to_missing_team_is_404(api: Api) -> None:
    with pytest.raises(NotFoundError, match="team ghosts not found"):
        await api.admin.apply([job("train", team="ghosts")])


async def test_list_paginates_with_continue_tokens(api: Api) -> None:
    await api.admin.apply([job(f"job-{i:02d}") for i in range(7)])
    first = await api.admin.list_page("jobs", limit=3)
    assert [o.metadata.name for o in first.items] == ["job-00", "job-01", "job-02"]
    assert first.continue_
    second = await api.admin.list_page("jobs", limit=3, continue_=first.continue_)
    assert [o.metadata.name for o in second.items] == ["job-03", "job-04", "job-05"]
    everything = await api.admin.list("jobs", limit=2)
    assert [o.metadata.name for o in everything] == [f"job-{i:02d}" for i in range(7)]


async def test_mangled_continue_token_is_rejected(api: Api) -> None:
    with pytest.raises(InvalidError, match="continue token"):
        await api.admin.list_page("jobs", continue_="not-a-token")


async def test_label_selectors(api: Api) -> None:
    docs = []
    for name, labels in [("a", {"app": "web", "tier": "front"}), ("b", {"app": "web"}), ("c", {})]:
        doc = job(name)
        doc["metadata"]["labels"] = labels
        docs.append(doc)
    await api.admin.apply(docs)

    async def names(selector: str) -> list[str]:
        return [o.metadata.name for o in await api.admin.list("jobs", selector=selector)]

    assert await names("app=web") == ["a", "b"]
    assert await names("app=web,tier!=front") == ["b"]
    assert await names("tier!=front") == ["b", "c"]
    assert await names("tier") == ["a"]
    assert await names("!app") == ["c"]
    with pytest.raises(InvalidError, match="label selector term"):
        await names("app=we b")


async def test_kinds_are_separate(api: Api) -> None:
    await api.admin.apply([job("x"), service("x"), workspace("x")])
    for kind in ("jobs", "services", "workspaces"):
        [item] = await api.admin.list(kind)
        assert item.metadata.name == "x"


async def test_delete_of_a_pending_object_finishes_at_once(api: Api) -> None:
    [created] = await api.admin.apply([job("train")])
    deleted = await api.admin.delete("job", "train")
    assert deleted.finished
    with pytest.raises(NotFoundError):
        await api.admin.get("job", "train")
    events = await api.admin.events("job")
    assert [e.reason for e in events if e.uid == created.object.metadata.uid] == [
        "Created",
        "Deleted",
    ]


async def test_delete_of_a_missing_object_is_404(api: Api) -> None:
    with pytest.raises(NotFoundError, match="job/nope not found"):
        await api.admin.delete("job", "nope")


async def test_events_of_an_object(api: Api) -> None:
    await api.admin.apply([job("train")])
    await api.admin.apply([job("train", retries=0)])
    events = await api.admin.events("job", "train")
    assert [e.reason for e in events] == ["Created", "Configured"]
    assert "generation 2" in events[1].message


async def test_same_name_in_two_teams_needs_a_team(api: Api) -> None:
    await api.admin.create_team("research")
    await api.admin.apply([job("train"), job("train", team="research")])
    with pytest.raises(InvalidError, match="several teams"):
        await api.admin.get("job", "train")
    got = await api.admin.get("job", "train", team="research")
    assert got.metadata.team == "research"
