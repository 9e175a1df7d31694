"""Every dashboard route, every role: the pages authorise exactly as the API does.

Teams alpha and beta; alpha has a member and a viewer; an outsider belongs to beta only;
a system admin; and an anonymous visitor (no session), who is sent to the sign-in form.
Job ``x``, workspace ``w`` and feed ``f`` live in alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from sapwood.server.dashboard import feeds, reruns, routes, slack_link, workloads
from sapwood.testing.feeds import feed
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api, job, workspace

pytestmark = pytest.mark.anyio

ROLES = ["admin", "member", "viewer", "outsider", "anonymous"]
SIGN_IN = 303  # what an anonymous visitor gets from every page
JOB_Y = (
    "apiVersion: sapwood/v1\nkind: Job\n"
    "metadata:\n  name: y\n  team: alpha\n"
    'spec:\n  command: ["true"]\n'
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"


@pytest.fixture
async def tokens(api: Api) -> dict[str, str | None]:
    admin = api.admin
    await admin.create_team("alpha")
    await admin.create_team("beta")
    users = {
        "member": {"alpha": "member"},
        "viewer": {"alpha": "viewer"},
        "outsider": {"beta": "member"},
    }
    out: dict[str, str | None] = {"admin": api.admin_token, "anonymous": None}
    for user, teams in users.items():
        await admin.create_user(user, teams=teams)
        out[user] = (await admin.create_token(user=user)).token
    await admin.apply(
        [job("x", team="alpha"), workspace("w", team="alpha"), feed("f", team="alpha")]
    )
    return out


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the route's path template, as registered
    path: str
    form: dict[str, str] | None
    expect: dict[str, int]
    # Applied before each role's request: a delete removes its object for the next role.
    before: tuple[dict[str, Any], ...] = ()


def _expect(ok: int, **overrides: int) -> dict[str, int]:
    table = dict.fromkeys(ROLES, ok)
    table["anonymous"] = SIGN_IN
    table.update(overrides)
    return table


ANY = _expect(200)
READ = _expect(200, outsider=404)
WRITE = _expect(303, viewer=403, outsider=404)
W = "/ui/workloads/{plural}/{team}/{name}"

CASES = [
    Case("GET", "/ui/login", "/ui/login", None, _expect(200, anonymous=200)),
    Case("POST", "/ui/login", "/ui/login", {}, _expect(303, anonymous=401)),
    Case("POST", "/ui/logout", "/ui/logout", {}, _expect(303)),
    Case("GET", "/ui/static/{name}", "/ui/static/style.css", None, _expect(200, anonymous=200)),
    Case("GET", "/", "/", None, ANY),
    Case("GET", "/ui/queue", "/ui/queue?team=alpha", None, READ),
    Case("GET", "/ui/workloads", "/ui/workloads?team=alpha", None, READ),
    Case("GET", W, "/ui/workloads/jobs/alpha/x", None, READ),
    Case("GET", W + "/charts", "/ui/workloads/jobs/alpha/x/charts", None, READ),
    Case("GET", W + "/status", "/ui/workloads/jobs/alpha/x/status", None, READ),
    Case("GET", W + "/logs", "/ui/workloads/jobs/alpha/x/logs", None, _expect(503, outsider=404)),
    Case("POST", W + "/pause", "/ui/workloads/workspaces/alpha/w/pause", {}, WRITE),
    Case("POST", W + "/resume", "/ui/workloads/workspaces/alpha/w/resume", {}, WRITE),
    # Job x never ran (no controller here): writers may ask, and hear it has not finished.
    Case(
        "POST",
        "/ui/workloads/jobs/{team}/{name}/rerun",
        "/ui/workloads/jobs/alpha/x/rerun",
        {},
        _expect(409, viewer=403, outsider=404),
    ),
    Case(
        "POST",
        W + "/delete",
        "/ui/workloads/jobs/alpha/d/delete",
        {},
        WRITE,
        before=(job("d", team="alpha"),),
    ),
    Case("GET", "/ui/deploy", "/ui/deploy", None, ANY),
    Case(
        "POST",
        "/ui/deploy",
        "/ui/deploy",
        {"text": JOB_Y, "action": "apply"},
        _expect(200, viewer=403, outsider=404),
    ),
    Case("GET", "/ui/models", "/ui/models", None, ANY),
    Case("GET", "/ui/feeds", "/ui/feeds", None, ANY),
    Case("GET", "/ui/feeds/{team}/{name}", "/ui/feeds/alpha/f", None, READ),
    Case(
        "POST",
        "/ui/feeds/{team}/{name}/delete",
        "/ui/feeds/alpha/g/delete",
        {},
        WRITE,
        before=(feed("g", team="alpha"),),
    ),
    # Any signed-in user may link a Slack user to themselves; an unknown code is refused.
    Case("GET", "/ui/slack/link", "/ui/slack/link?code=unknown", None, _expect(422)),
    Case("POST", "/ui/slack/link", "/ui/slack/link", {"code": "unknown"}, _expect(422)),
]


def test_every_dashboard_route_is_in_the_matrix() -> None:
    registered = {
        (method, route.path)
        for route in [
            *routes.router.routes,
            *workloads.router.routes,
            *reruns.router.routes,
            *feeds.router.routes,
            *slack_link.router.routes,
        ]
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert registered == {(c.method, c.route) for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_dashboard_route_by_role(
    api: Api, browser: Browser, tokens: dict[str, str | None], case: Case
) -> None:
    # One world per route, every role in turn: the writes here are idempotent.
    for role in ROLES:
        token = tokens[role]
        if case.before:
            await api.admin.apply(list(case.before))
        async with browser(None if case.route == "/ui/login" else token) as client:
            form = case.form
            if form is not None and case.route == "/ui/login":
                form = {"token": token} if token else {}
            elif form is not None and token is not None:
                form = {**form, "csrf": csrf_of((await client.get("/ui/deploy")).text)}
            if case.method == "GET":
                response = await client.get(case.path)
            else:
                response = await client.post(case.path, data=form)
        assert response.status_code == case.expect[role], (role, response.text[:2000])
        if role == "anonymous" and case.expect[role] == SIGN_IN:
            assert response.headers["location"].startswith("/ui/login")
