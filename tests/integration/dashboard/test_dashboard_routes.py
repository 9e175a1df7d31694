"""The dashboard over HTTP without a browser: sign-in, CSRF, and what each page shows."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from sapwood.schemas.arrow import from_ipc, to_ipc
from sapwood.testing.clock import FakeClock
from sapwood.testing.feeds import antinex_rows, feed, threshold_scores
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api, job, workspace
from tests.support_onnx import mlp_model

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # The pages read through the services, which the store suites cover on PostgreSQL.
    return f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}"


@pytest.mark.parametrize("path", ["/", "/ui/queue", "/ui/workloads?kind=Job", "/ui/deploy"])
async def test_pages_send_a_visitor_without_a_session_to_sign_in(
    browser: Browser, path: str
) -> None:
    async with browser() as client:
        response = await client.get(path)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/ui/login")
    if path != "/":
        assert "next=" in location


async def test_signing_in_sets_a_strict_httponly_cookie_and_returns_to_the_page(
    api: Api, browser: Browser
) -> None:
    async with browser() as client:
        response = await client.post(
            "/ui/login", data={"token": api.admin_token, "next": "/ui/queue"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/queue"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie
        page = await client.get("/ui/queue")
    assert page.status_code == 200
    assert "Signed in as" in page.text
    assert api.admin_token not in page.text


async def test_over_https_the_cookie_is_secure(api: Api, browser: Browser) -> None:
    async with browser(base_url="https://sapwood.test") as client:
        response = await client.post("/ui/login", data={"token": api.admin_token})
    assert "secure" in response.headers["set-cookie"].lower()


async def test_a_wrong_token_is_refused_and_not_echoed(browser: Browser) -> None:
    wrong = "swt_nothere.notasecretatall"
    async with browser() as client:
        response = await client.post("/ui/login", data={"token": wrong})
    assert response.status_code == 401
    assert "unknown token" in response.text or "malformed" in response.text
    assert wrong not in response.text
    assert "set-cookie" not in response.headers


async def test_sign_in_never_redirects_to_another_site(api: Api, browser: Browser) -> None:
    async with browser() as client:
        response = await client.post(
            "/ui/login", data={"token": api.admin_token, "next": "//evil.example/"}
        )
    assert response.headers["location"] == "/"


async def test_a_revoked_token_ends_the_session(api: Api, browser: Browser) -> None:
    await api.admin.create_user("mia", teams={"default": "member"})
    created = await api.admin.create_token(user="mia")
    async with browser(created.token) as client:
        assert (await client.get("/")).status_code == 200
        await api.admin.revoke_token(created.id)
        response = await client.get("/ui/workloads")
    assert response.status_code == 303
    assert "expired=1" in response.headers["location"]
    assert 'sapwood_session=""' in response.headers["set-cookie"]


async def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(
    api: Api, browser: Browser
) -> None:
    async with browser(api.admin_token) as client:
        refused = await client.post("/ui/logout", data={"csrf": "0" * 64})
        assert refused.status_code == 403
        assert "security token" in refused.text
        csrf = csrf_of((await client.get("/")).text)
        response = await client.post("/ui/logout", data={"csrf": csrf})
        assert response.status_code == 303
        assert (await client.get("/")).status_code == 303


async def test_a_form_posted_from_another_site_is_refused(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get("/ui/deploy")).text)
        response = await client.post(
            "/ui/deploy",
            data={"csrf": csrf, "text": "", "action": "check"},
            headers={"Origin": "http://evil.example"},
        )
    assert response.status_code == 403


async def test_overview_shows_allocation_per_team_and_unknown_capacity(
    api: Api, browser: Browser
) -> None:
    await api.admin.set_quota("default", guaranteed={"cpu": 4, "memory": "8Gi"})
    async with browser(api.admin_token) as client:
        response = await client.get("/")
    assert response.status_code == 200
    text = response.text
    assert "This server runs no controller, so capacity is unknown." in text
    assert "scale: guaranteed quota" in text
    assert "4 cores" in text  # the default team's guaranteed cpu is the scale of its bar
    assert "unknown" in text
    assert "Content-Security-Policy" in response.headers


async def test_deploy_without_the_csrf_token_is_refused(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        response = await client.post("/ui/deploy", data={"text": "kind: Job", "action": "apply"})
    assert response.status_code == 403
    assert await api.admin.list("jobs") == []


JOB = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: train
  labels:
    app: mnist
spec:
  command: ["python", "-c", "print(1)"]
"""


async def test_deploy_checks_then_applies_and_links_to_the_job(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get("/ui/deploy")).text)
        checked = await client.post(
            "/ui/deploy", data={"csrf": csrf, "text": JOB, "action": "check"}
        )
        assert checked.status_code == 200
        assert "Valid: applying would do this" in checked.text
        assert await api.admin.list("jobs") == []
        applied = await client.post(
            "/ui/deploy", data={"csrf": csrf, "text": JOB, "action": "apply"}
        )
    assert applied.status_code == 200
    assert 'href="/ui/workloads/jobs/default/train"' in applied.text
    assert [o.metadata.name for o in await api.admin.list("jobs")] == ["train"]


def _error_lines(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="error" data-line="(\d+)"', html)]


async def test_deploy_shows_a_spec_error_beside_its_line(api: Api, browser: Browser) -> None:
    text = JOB.replace(
        '  command: ["python", "-c", "print(1)"]', '  command: ["python"]\n  replicas: lots'
    )
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get("/ui/deploy")).text)
        response = await client.post(
            "/ui/deploy", data={"csrf": csrf, "text": text, "action": "apply"}
        )
    assert response.status_code == 422
    line = text.split("\n").index("  replicas: lots") + 1
    assert _error_lines(response.text) == [line]
    assert f"Line {line}</a>: <code>spec.replicas</code>" in response.text
    assert await api.admin.list("jobs") == []


async def test_deploy_places_yaml_syntax_and_server_rule_errors_on_lines(
    api: Api, browser: Browser
) -> None:
    broken = JOB.replace("  labels:\n", "  labels: [\n")
    second = (
        JOB
        + "---\n"
        + JOB.replace("name: train", "name: other").replace(
            "spec:\n", "spec:\n  priority: urgent\n"
        )
    )
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get("/ui/deploy")).text)
        syntax = await client.post("/ui/deploy", data={"csrf": csrf, "text": broken})
        rules = await client.post("/ui/deploy", data={"csrf": csrf, "text": second})
    assert syntax.status_code == 422
    assert "invalid YAML" in syntax.text
    assert _error_lines(syntax.text)
    assert rules.status_code == 422
    assert "unknown priority" in rules.text
    assert _error_lines(rules.text) == [second.split("\n").index("  priority: urgent") + 1]


async def test_queue_lists_waiting_work_with_its_reason(api: Api, browser: Browser) -> None:
    await api.admin.apply([job("waiting")])
    async with browser(api.admin_token) as client:
        response = await client.get("/ui/queue")
    assert "job/waiting" in response.text
    assert "not yet considered by the scheduler" in response.text


async def test_workload_list_filters_by_kind_phase_and_labels(api: Api, browser: Browser) -> None:
    labelled = job("a")
    labelled["metadata"]["labels"] = {"app": "web"}
    await api.admin.apply([labelled, job("b"), workspace("ws")])
    async with browser(api.admin_token) as client:
        everything = await client.get("/ui/workloads")
        jobs = await client.get("/ui/workloads", params={"kind": "Job"})
        web = await client.get("/ui/workloads", params={"selector": "app=web"})
        running = await client.get("/ui/workloads", params={"phase": "Running"})
        bad = await client.get("/ui/workloads", params={"selector": "=web"})
    names = re.compile(r'href="/ui/workloads/\w+/default/([\w-]+)"')
    assert sorted(names.findall(everything.text)) == ["a", "b", "ws"]
    assert sorted(names.findall(jobs.text)) == ["a", "b"]
    assert names.findall(web.text) == ["a"]
    assert names.findall(running.text) == []
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    assert "label key &#39;&#39; is invalid" in bad.text


async def test_workload_page_shows_status_events_and_metric_charts(
    api: Api, browser: Browser
) -> None:
    await api.admin.apply([job("train")])
    points = [{"name": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(5)]
    await api.admin.write_metrics("job", "train", points)
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/workloads/jobs/default/train")
        fragment = await client.get("/ui/workloads/jobs/default/train/charts")
        status = await client.get("/ui/workloads/jobs/default/train/status")
        missing = await client.get("/ui/workloads/jobs/default/nope")
    assert page.status_code == 200
    assert "Pending" in page.text
    assert "job/train created" in page.text  # the Created event
    assert 'data-series="loss"' in page.text
    assert re.search(r'<polyline class="line" points="[\d., ]+"', page.text)
    assert 'data-series="loss"' in fragment.text
    assert status.json()["phase"] == "Pending"
    assert missing.status_code == 404
    assert "not found" in missing.text


async def test_logs_say_there_is_no_controller(api: Api, browser: Browser) -> None:
    await api.admin.apply([job("train")])
    async with browser(api.admin_token) as client:
        page = await client.get("/ui/workloads/jobs/default/train")
        logs = await client.get("/ui/workloads/jobs/default/train/logs")
    assert "no controller, so there are no logs" in page.text
    assert logs.status_code == 503


async def test_pause_and_resume_a_workspace(api: Api, browser: Browser) -> None:
    await api.admin.apply([workspace("notebook")])
    base = "/ui/workloads/workspaces/default/notebook"
    async with browser(api.admin_token) as client:
        page = await client.get(base)
        assert "Pause workspace" in page.text
        csrf = csrf_of(page.text)
        assert (await client.post(f"{base}/pause", data={})).status_code == 403
        paused = await client.post(f"{base}/pause", data={"csrf": csrf})
        assert paused.status_code == 303
        assert (await api.admin.get("workspace", "notebook")).spec["paused"] is True
        assert "Resume workspace" in (await client.get(base)).text
        await client.post(f"{base}/resume", data={"csrf": csrf})
    assert (await api.admin.get("workspace", "notebook")).spec["paused"] is False


async def test_a_job_cannot_be_paused(api: Api, browser: Browser) -> None:
    await api.admin.apply([job("train")])
    async with browser(api.admin_token) as client:
        csrf = csrf_of((await client.get("/")).text)
        response = await client.post("/ui/workloads/jobs/default/train/pause", data={"csrf": csrf})
    assert response.status_code == 422
    assert "cannot be paused" in response.text


async def test_models_and_feeds_pages_render(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        models = await client.get("/ui/models")
        feeds = await client.get("/ui/feeds")
    assert models.status_code == 200
    assert "No models yet." in models.text
    assert feeds.status_code == 200
    assert "No feeds yet." in feeds.text


async def test_static_files_are_served_and_others_are_not(browser: Browser) -> None:
    async with browser() as client:
        css = await client.get("/ui/static/style.css")
        other = await client.get("/ui/static/..%2Fweb.py")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert other.status_code == 404


async def test_models_page_lists_versions_and_aliases(api: Api, browser: Browser) -> None:
    await api.admin.push_model(mlp_model(features=3, seed=1), name="ids", metrics={"auc": 0.9})
    await api.admin.push_model(mlp_model(features=3, seed=2), name="ids", alias="production")
    async with browser(api.admin_token) as client:
        response = await client.get("/ui/models")
    text = response.text
    assert "default/ids: 2 versions; aliases production → 2" in text
    assert "auc 0.9" in text


async def test_feeds_page_shows_figures_and_the_newest_results(api: Api, browser: Browser) -> None:
    await api.admin.apply([feed("ids", team="default")])
    await api.admin.push_records("ids", antinex_rows(12))
    while (batch := await api.admin.lease_batch("ids")) is not None:
        results = threshold_scores(from_ipc(batch.records))
        await api.admin.ack_batch("ids", batch.lease_id, to_ipc(results), model_version="1")
    async with browser(api.admin_token) as client:
        response = await client.get("/ui/feeds")
    text = response.text
    assert response.status_code == 200
    name = '<td><a href="/ui/feeds/default/ids">ids</a></td>'  # the name links to its page
    assert name in text
    # name, team, phase, why, then the records
    assert re.search(name + r"<td>default</td><td>[^<]*</td><td>[^<]*</td><td>12</td>", text)
    assert "default/ids: newest results" in text
    assert re.search(r"<tr><td>12</td><td>[01]</td>", text)  # the newest result comes first


async def test_feeds_page_charts_throughput_and_backlog_per_minute(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    await api.admin.apply([feed("ids", team="default")])
    await api.admin.push_records("ids", antinex_rows(12))  # at 00:00, scored at 00:01
    clock.advance(timedelta(minutes=1))
    while (batch := await api.admin.lease_batch("ids")) is not None:
        results = threshold_scores(from_ipc(batch.records))
        await api.admin.ack_batch("ids", batch.lease_id, to_ipc(results), model_version="1")
    clock.advance(timedelta(minutes=1, seconds=30))
    await api.admin.push_records("ids", antinex_rows(5, seed=1))  # at 00:02:30, waiting
    async with browser(api.admin_token) as client:
        text = (await client.get("/ui/feeds")).text
    assert "default/ids: throughput and backlog, last hour" in text
    throughput = re.search(r'<svg [^>]*data-chart="default/ids throughput".*?</svg>', text, re.S)
    backlog = re.search(r'<svg [^>]*data-chart="default/ids backlog".*?</svg>', text, re.S)
    assert throughput
    assert backlog
    assert 'role="img"' in throughput.group(0)
    assert "<title" in throughput.group(0)
    assert "<desc" in backlog.group(0)
    assert throughput.group(0).count("<polyline") == 2
    # The numbers as text: totals over the hour, and the per-minute table.
    assert "Ingested total 17, peak 12, latest 5" in text
    assert "Scored total 12, peak 12, latest 0" in text
    assert "Backlog peak 12, latest 5" in text
    assert "Ingested: total 17, peak 12, latest 5; Scored: total 12, peak 12, latest 0" in text
    rows = re.findall(r"<tr><td>(\d\d:\d\d)</td><td>(\d+)</td><td>(\d+)</td></tr>", text)
    assert rows == [("00:00", "12", "0"), ("00:01", "0", "12"), ("00:02", "5", "0")]
    assert re.findall(r"<tr><td>(\d\d:\d\d)</td><td>(\d+)</td></tr>", text) == [
        ("00:00", "12"),
        ("00:02", "5"),
    ]
