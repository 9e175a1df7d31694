"""Training metrics through the SDK: who writes, what is refused, what a reader gets back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sapwood.client import AsyncClient, ForbiddenError, InvalidError, NotFoundError
from sapwood.schemas import MetricPoint
from sapwood.server.controller import store_io
from sapwood.server.secrets import WORKLOADS_USER, workload_token
from tests.support import Api, job

pytestmark = pytest.mark.anyio


async def workload_client(api: Api, kind: str, name: str, team: str = "default") -> AsyncClient:
    """The SDK as the object's own workload, with the token the controller would give it."""
    obj = await api.admin.get(kind, name, team=team)
    token = workload_token(b"k" * 32, obj.metadata.uid)
    await store_io.ensure_workload_tokens(
        api.transport.app.state.sapwood.sessions,  # type: ignore[attr-defined]
        [
            store_io.WorkloadToken(
                token.id, token.secret_hash, f"{obj.kind}/{obj.metadata.team}/{obj.metadata.name}"
            )
        ],
        user=WORKLOADS_USER,
        now=datetime.now(UTC),
    )
    return api.client(token.token, team=team)


async def test_a_workload_writes_its_metrics_and_a_member_reads_them(api: Api) -> None:
    await api.admin.apply([job("train"), job("other")])
    async with await workload_client(api, "job", "train") as workload:
        written = await workload.write_metrics(
            "job",
            "train",
            [
                MetricPoint(name="loss", value=0.9, step=0),
                {"name": "loss", "value": 0.5, "step": 1},
                {"name": "loss", "value": 0.25, "step": 2},
                {"name": "accuracy", "value": 0.8, "step": 2},
            ],
        )
        assert written == 4
        # It reads its own team, as a viewer does.
        assert [s.name for s in await workload.list_metrics("job", "train")] == [
            "accuracy",
            "loss",
        ]

    series = {s.name: s for s in await api.admin.list_metrics("job", "train")}
    assert [(p.step, p.value) for p in series["loss"].points] == [(0, 0.9), (1, 0.5), (2, 0.25)]
    assert series["loss"].count == 3
    [accuracy] = await api.admin.list_metrics("job", "train", metric="accuracy")
    assert accuracy.points[0].value == 0.8
    assert await api.admin.list_metrics("job", "other") == []
    assert await api.admin.list_metrics("job", "train", metric="nothing") == []


async def test_a_workload_token_writes_no_other_objects_metrics(api: Api) -> None:
    await api.admin.create_team("beta")
    await api.admin.apply([job("train"), job("other"), job("theirs", team="beta")])
    point = [{"name": "loss", "value": 1.0}]
    async with await workload_client(api, "job", "train") as workload:
        # Another object of its team is as hidden from it as one of another team.
        with pytest.raises(NotFoundError, match="job/other not found"):
            await workload.write_metrics("job", "other", point)
        with pytest.raises(NotFoundError):
            await workload.write_metrics("job", "theirs", point, team="beta")
        with pytest.raises(NotFoundError):
            await workload.write_metrics("service", "train", point)
    assert await api.admin.list_metrics("job", "other") == []


async def test_members_write_viewers_cannot_outsiders_see_nothing(api: Api) -> None:
    await api.admin.create_team("ml")
    await api.admin.create_team("web")
    await api.admin.apply([job("train", team="ml")])
    roles = {"mia": {"ml": "member"}, "vic": {"ml": "viewer"}, "otto": {"web": "member"}}
    clients = {}
    for user, teams in roles.items():
        await api.admin.create_user(user, teams=teams)
        clients[user] = api.client((await api.admin.create_token(user=user)).token)
    point = [{"name": "loss", "value": 1.0, "step": 1}]

    assert await clients["mia"].write_metrics("job", "train", point, team="ml") == 1
    with pytest.raises(ForbiddenError):
        await clients["vic"].write_metrics("job", "train", point, team="ml")
    [loss] = await clients["vic"].list_metrics("job", "train", team="ml")
    assert loss.count == 1
    with pytest.raises(NotFoundError):
        await clients["otto"].write_metrics("job", "train", point, team="ml")
    with pytest.raises(NotFoundError):
        await clients["otto"].list_metrics("job", "train", team="ml")
    for client in clients.values():
        await client.aclose()


async def test_an_invalid_point_is_named_and_nothing_is_stored(api: Api) -> None:
    await api.admin.apply([job("train")])
    # Python's json writes NaN and reads 1e999 as infinity; neither is a finite value.
    for bad in (b"NaN", b"1e999"):
        body = b'[{"name": "loss", "value": 1.0}, {"name": "loss", "value": ' + bad + b"}]"
        async with api.http(api.admin_token) as http:
            response = await http.post(
                "/api/v1/jobs/train/metrics",
                content=body,
                headers={"Content-Type": "application/json"},
            )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["message"] == "point 2 of 2 is invalid"
        assert error["details"] == [
            {"path": "points[1].value", "message": "Input should be a finite number"}
        ]

    with pytest.raises(InvalidError) as caught:
        await api.admin.write_metrics("job", "train", [{"name": "bad name", "value": 1}])
    assert caught.value.status == 422
    assert caught.value.details[0].path == "points[0].name"

    with pytest.raises(InvalidError, match="at most 1000"):
        await api.admin.write_metrics("job", "train", [{"name": "x", "value": 1}] * 1001)
    assert await api.admin.list_metrics("job", "train") == []


async def test_a_long_series_is_downsampled_keeping_its_ends(api: Api) -> None:
    await api.admin.apply([job("train")])
    values = [float(step % 7) for step in range(3000)]
    for start in range(0, 3000, 1000):
        batch = [
            {"name": "loss", "value": values[s], "step": s} for s in range(start, start + 1000)
        ]
        await api.admin.write_metrics("job", "train", batch)

    [loss] = await api.admin.list_metrics("job", "train")
    assert loss.count == 3000
    assert len(loss.points) <= 500
    assert (loss.points[0].step, loss.points[-1].step) == (0, 2999)
    assert loss.points[-1].value == values[-1]
    assert sum(p.count for p in loss.points) == 3000
    assert (min(p.min for p in loss.points), max(p.max for p in loss.points)) == (0.0, 6.0)

    [few] = await api.admin.list_metrics("job", "train", points=10)
    assert len(few.points) <= 10
    [newest] = await api.admin.list_metrics("job", "train", limit=100)
    assert (newest.count, newest.points[0].step) == (100, 2900)

    with pytest.raises(InvalidError):
        await api.admin.list_metrics("job", "train", points=2)


async def test_since_filters_by_time(api: Api) -> None:
    await api.admin.apply([job("train")])
    await api.admin.write_metrics(
        "job",
        "train",
        [
            {"name": "loss", "value": 1.0, "time": "2025-01-01T00:00:00Z"},
            {"name": "loss", "value": 2.0, "time": "2025-03-01T00:00:00Z"},
        ],
    )
    [loss] = await api.admin.list_metrics("job", "train", since=datetime(2025, 2, 1, tzinfo=UTC))
    assert [p.value for p in loss.points] == [2.0]
    assert loss.points[0].time == datetime(2025, 3, 1, tzinfo=UTC)


async def test_a_recreated_object_starts_without_the_old_metrics(api: Api) -> None:
    await api.admin.apply([job("train")])
    await api.admin.write_metrics("job", "train", [{"name": "loss", "value": 1.0}])
    assert (await api.admin.delete("job", "train")).finished  # never started: gone at once
    await api.admin.apply([job("train")])
    assert await api.admin.list_metrics("job", "train") == []


async def test_unknown_objects_and_kinds_are_not_found(api: Api) -> None:
    with pytest.raises(NotFoundError):
        await api.admin.write_metrics("job", "ghost", [{"name": "loss", "value": 1.0}])
    async with api.http(api.admin_token) as http:
        response = await http.get("/api/v1/gizmos/x/metrics")
    assert response.status_code == 404
