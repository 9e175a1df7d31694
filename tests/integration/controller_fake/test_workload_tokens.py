"""A workload's token lives as long as its run: issued at start, re-issued for adopted units,
revoked when a Job finishes or its object is deleted, enabled again when a run begins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller import store_io
from sapwood.server.secrets import WORKLOADS_USER, workload_token_id
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import TokenRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.fake_runtime import FakeRuntime
from tests.integration.controller_fake.conftest import Harness, key
from tests.support import job, service

pytestmark = pytest.mark.anyio


def sessions(sw: Harness) -> async_sessionmaker[AsyncSession]:
    state = sw.api.transport.app.state.sapwood  # type: ignore[attr-defined]
    return state.sessions  # type: ignore[no-any-return]


async def own_object(sw: Harness, token: str, path: str) -> httpx.Response:
    async with sw.api.http(token) as http:
        return await http.get(path)


@pytest.mark.parametrize(("exit_code", "phase"), [(0, "Succeeded"), (1, "Failed")])
async def test_a_jobs_token_is_revoked_when_its_run_ends(
    sw: Harness, exit_code: int, phase: str
) -> None:
    await sw.apply(job("train", retries=0))
    await sw.step()
    [unit] = sw.fake.started
    token = unit.env["SAPWOOD_TOKEN"]
    assert (await own_object(sw, token, "/api/v1/jobs/train")).status_code == 200

    sw.clock.advance(30)
    sw.fake.exit(unit.key, exit_code)
    await sw.until_phase("job", "train", phase)

    ended = await own_object(sw, token, "/api/v1/jobs/train")
    assert ended.status_code == 401
    error = ended.json()["error"]["message"]
    assert "Job/default/train was revoked: its run ended" in error


async def test_a_new_run_enables_the_token_again(sw: Harness) -> None:
    await sw.apply(job("train"))
    await sw.step()
    [unit] = sw.fake.started
    token = unit.env["SAPWOOD_TOKEN"]
    sw.clock.advance(30)
    sw.fake.exit(unit.key, 0)
    await sw.until_phase("job", "train", "Succeeded")
    assert (await own_object(sw, token, "/api/v1/jobs/train")).status_code == 401

    # What the controller does when a run begins (a re-run, a resume): ensure the token.
    uid = (await sw.get("job", "train")).metadata.uid
    async with sessions(sw)() as session:
        stored = await session.get(TokenRow, workload_token_id(uid))
        assert stored is not None
        secret_hash = stored.secret_hash
    await store_io.ensure_workload_tokens(
        sessions(sw),
        [store_io.WorkloadToken(workload_token_id(uid), secret_hash, "Job/default/train")],
        user=WORKLOADS_USER,
        now=sw.clock.now(),
    )
    assert (await own_object(sw, token, "/api/v1/jobs/train")).status_code == 200


async def test_ensuring_a_token_revoked_by_hand_enables_it(sw: Harness) -> None:
    await sw.apply(service("web"))
    await sw.step()
    [unit] = sw.fake.started
    token = unit.env["SAPWOOD_TOKEN"]
    token_id = token.split("_")[1]
    async with sw.api.http(sw.api.admin_token) as http:
        assert (await http.delete(f"/api/v1/tokens/{token_id}")).status_code == 204
    assert (await own_object(sw, token, "/api/v1/services/web")).status_code == 401

    async with sessions(sw)() as session:
        row = await session.get(TokenRow, token_id)
        assert row is not None
        secret_hash, scope = row.secret_hash, row.scope
    assert scope is not None
    await store_io.ensure_workload_tokens(
        sessions(sw),
        [store_io.WorkloadToken(token_id, secret_hash, scope)],
        user=WORKLOADS_USER,
        now=sw.clock.now(),
    )
    assert (await own_object(sw, token, "/api/v1/services/web")).status_code == 200


async def test_deleting_a_running_object_revokes_its_token_at_once(sw: Harness) -> None:
    await sw.apply(service("web"))
    await sw.step()
    [unit] = sw.fake.started
    token = unit.env["SAPWOOD_TOKEN"]
    assert (await own_object(sw, token, "/api/v1/services/web")).status_code == 200

    deleted = await sw.sdk.delete("service", "web")
    assert not deleted.finished  # its replica is still stopping

    gone = await own_object(sw, token, "/api/v1/services/web")
    assert gone.status_code == 401
    assert "revoked" in gone.json()["error"]["message"]


async def test_a_restarted_controller_issues_the_tokens_of_the_units_it_adopts(
    make_server: Callable[[FakeRuntime], Any], fake: FakeRuntime, clock: FakeClock
) -> None:
    async with make_server(fake) as before:
        await before.apply(service("web"), job("train"))
        await before.step()
        tokens = {u.key: u.env["SAPWOOD_TOKEN"] for u in fake.started}
        # The store lost the stored tokens (restored from a backup taken before they
        # were issued, say); the units keep running with theirs.
        async with sessions(before)() as session:
            await session.execute(delete(TokenRow).where(TokenRow.scope.is_not(None)))
            await session.commit()

        async with make_server(fake) as after:
            await after.step()
            assert len(fake.started) == 2  # adopted, not started again
            web = await own_object(after, tokens[key("Service", "web")], "/api/v1/services/web")
            assert web.status_code == 200
            train = await own_object(after, tokens[key("Job", "train")], "/api/v1/jobs/train")
            assert train.status_code == 200
            async with sessions(after)() as session:
                scopes = set(await session.scalars(select(TokenRow.scope)))
            assert {"Service/default/web", "Job/default/train"} <= scopes
