"""POST /teams/{team}/workspaces/{name}/extend through the SDK and raw HTTP, and the resume
it unlocks, on SQLite and PostgreSQL (no controller runs: expiry is the clock's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from sapwood.client import ConflictError, ForbiddenError, InvalidError, NotFoundError
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.clock import FakeClock
from tests.support import Api, workspace

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)


async def as_controller_leaves_it(api: Api, name: str, status: dict[str, Any]) -> None:
    """Writes a status as the controller would (none runs in these tests)."""
    sessions = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.execute(update(ObjectRow).where(ObjectRow.name == name).values(status=status))
        await session.commit()


async def test_an_extension_adds_to_the_expiry_while_it_is_ahead(
    api: Api, clock: FakeClock
) -> None:
    await api.admin.apply([workspace("lab", ttl="1d")])
    created = (await api.admin.get("workspace", "lab")).metadata.created_at
    clock.advance(timedelta(hours=2))
    obj = await api.admin.extend("lab", by="1d", team="default")
    assert obj.spec["ttl"] == "2d"
    assert obj.status["expiresAt"] == (created + 2 * DAY).isoformat()
    assert obj.typed_status.expires_at == created + 2 * DAY  # type: ignore[attr-defined]
    assert obj.metadata.generation == 2
    events = await api.admin.events("workspace", "lab")
    assert events[-1].reason == "Extended"
    assert f"extended to {(created + 2 * DAY):%Y-%m-%d %H:%M} UTC" in events[-1].message


async def test_once_it_ran_out_an_extension_counts_from_now(api: Api, clock: FakeClock) -> None:
    await api.admin.apply([workspace("lab", ttl="1h")])
    created = (await api.admin.get("workspace", "lab")).metadata.created_at
    clock.advance(timedelta(hours=5))
    obj = await api.admin.extend("lab", by=timedelta(hours=8), team="default")
    assert obj.status["expiresAt"] == (created + timedelta(hours=13)).isoformat()
    assert obj.spec["ttl"] == "13h"


async def test_a_workspace_without_a_ttl_gets_one(api: Api, clock: FakeClock) -> None:
    await api.admin.apply([workspace("lab")])
    clock.advance(timedelta(minutes=30))
    obj = await api.admin.extend("lab", by="1d", team="default")
    assert obj.spec["ttl"] == "1d30m"


async def test_resume_is_refused_until_the_workspace_is_extended(
    api: Api, clock: FakeClock
) -> None:
    await api.admin.apply([workspace("lab", ttl="1d")])
    clock.advance(DAY + timedelta(minutes=1))
    await as_controller_leaves_it(
        api, "lab", {"phase": "Paused", "reason": "Expired", "message": "time to live 1d ran out"}
    )
    with pytest.raises(ConflictError, match=r"time to live 1d ran out at .*: extend it") as info:
        await api.admin.resume("workspace", "lab")
    assert "sapwood extend workspace lab --by 1d" in str(info.value.hint)

    extended = await api.admin.extend("lab", by="1d", team="default")
    assert (extended.status["phase"], extended.status["reason"]) == ("Paused", "Expired")
    assert "resume it" in extended.status["message"]
    resumed = await api.admin.resume("workspace", "lab")
    assert resumed.status["reason"] == "ResumeRequested"  # the controller queues it


@pytest.mark.parametrize(
    ("by", "words"),
    [
        ("0s", "between 1m and 30d"),
        ("30s", "between 1m and 30d"),
        ("31d", "between 1m and 30d"),
        ("soon", "not a duration"),
        (None, "by"),
    ],
)
async def test_a_bad_extension_is_422_naming_by(api: Api, by: str | None, words: str) -> None:
    await api.admin.apply([workspace("lab", ttl="1d")])
    async with api.http(api.admin_token) as http:
        response = await http.post(
            "/api/v1/teams/default/workspaces/lab/extend", json={} if by is None else {"by": by}
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert words in response.text
    assert any(d["path"].endswith("by") for d in error["details"]), error


async def test_a_ttl_past_365_days_is_refused(api: Api, clock: FakeClock) -> None:
    await api.admin.apply([workspace("lab", ttl="360d")])
    with pytest.raises(InvalidError, match="above the 365d limit"):
        await api.admin.extend("lab", by="10d", team="default")
    assert (await api.admin.get("workspace", "lab")).spec["ttl"] == "360d"


async def test_other_teams_and_viewers_cannot_extend(api: Api) -> None:
    admin = api.admin
    await admin.create_team("alpha")
    await admin.create_team("beta")
    await admin.create_user("vera", teams={"alpha": "viewer"})
    await admin.create_user("otto", teams={"beta": "member"})
    await admin.apply([workspace("lab", team="alpha", ttl="1d")])
    viewer = api.client((await admin.create_token(user="vera")).token)
    outsider = api.client((await admin.create_token(user="otto")).token)
    try:
        with pytest.raises(ForbiddenError, match="viewer of team alpha"):
            await viewer.extend("lab", by="1d", team="alpha")
        with pytest.raises(NotFoundError, match="workspace/lab not found in team alpha"):
            await outsider.extend("lab", by="1d", team="alpha")
    finally:
        await viewer.aclose()
        await outsider.aclose()
    assert (await admin.get("workspace", "lab", team="alpha")).spec["ttl"] == "1d"


async def test_only_workspaces_have_an_extend_route(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        response = await http.post("/api/v1/teams/default/jobs/x/extend", json={"by": "1d"})
    assert response.status_code == 404
