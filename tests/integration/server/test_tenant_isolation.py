"""The escape a team member once made through a real server, now failing at each step.

A member of team red submitted a Job that read the server's home (config.yaml with the
admin token, secret.key, sapwood.db) and other teams' workload tokens from
/proc/<pid>/environ, then called the API as admin. Here the same Job runs on a real
server with its controller and the local runtime, beside a blue-team Job, and reports
what it could get; it may still use its own token, as far as its own Job reaches.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sapwood.client import Client
from sapwood.testing import documents
from sapwood.testing.servers import LiveServer, live_server
from sapwood.testing.waiting import eventually_sync
from tests.conftest import require_sandbox

pytestmark = pytest.mark.slow

ESCAPE = textwrap.dedent(
    """
    import glob, json, os, pathlib, re, urllib.request, urllib.error
    home = {home!r}
    url = os.environ["SAPWOOD_URL"]
    found, tokens = {{}}, set()

    def read(name, path):
        try:
            text = pathlib.Path(path).read_bytes().decode(errors="replace")
        except OSError as exc:
            found[name] = "DENIED " + type(exc).__name__
            return
        found[name] = "READ"
        tokens.update(re.findall(r"sw_[0-9a-z]+_[-_0-9A-Za-z]+", text))

    read("config", home + "/config.yaml")
    read("secret_key", home + "/secret.key")
    read("database", home + "/sapwood.db")
    for path in glob.glob("/proc/[0-9]*/environ"):
        read("environ", path)
    found["other_environs"] = "BLUE_SECRET" in json.dumps(found)

    def call(path, token):
        request = urllib.request.Request(url + path, headers={{"Authorization": "Bearer " + token}})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    own = pathlib.Path(os.environ["SAPWOOD_TOKEN_FILE"]).read_text()
    found["stolen_admin_calls"] = [call("/api/v1/teams", t) for t in tokens - {{own}}]
    found["own_job"] = call("/api/v1/jobs/escape?team=red", own)
    found["blue_jobs"] = call("/api/v1/jobs?team=blue", own)
    print("RESULT " + json.dumps(found), flush=True)
    """
)


def job(name: str, command: list[str], **spec: object) -> dict[str, object]:
    return documents.job(name, command=command, **spec)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    require_sandbox()
    home = tmp_path / "home"
    with live_server(home, controller=True) as running:
        # What `sapwood server` leaves there on a first start: the admin's CLI config.
        config = home / "config.yaml"
        config.write_text(f"url: {running.url}\ntoken: {running.admin_token}\n")
        config.chmod(0o600)
        yield running


def wait_finished(client: Client, name: str, *, team: str) -> str:
    return eventually_sync(
        lambda: str(client.get("jobs", name, team=team).status.get("phase")),
        lambda phase: phase in ("Succeeded", "Failed"),
        timeout_s=60,
        what=f"job {name} to finish",
    )


def test_a_members_job_cannot_escape_through_a_real_server(server: LiveServer) -> None:
    with Client(server.url, token=server.admin_token) as admin:
        for team in ("red", "blue"):
            admin.create_team(team)
        admin.create_user("mallory")
        admin.set_membership("mallory", "red", "member")
        mallory_token = admin.create_token(user="mallory").token
        sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
        admin.apply(
            [
                {
                    **job("victim", sleeper, env={"BLUE_SECRET": "x"}),
                    "metadata": {"name": "victim", "team": "blue"},
                }
            ]
        )

    with Client(server.url, token=mallory_token, team="red") as mallory:
        script = ESCAPE.format(home=str(server.home))
        mallory.apply([job("escape", [sys.executable, "-c", script])])
        assert wait_finished(mallory, "escape", team="red") == "Succeeded"
        logs = b"".join(mallory.logs("jobs", "escape", team="red")).decode()
        found = json.loads(logs.split("RESULT ", 1)[1])
        limits = str(mallory.get("jobs", "escape", team="red").status.get("limits"))

    for step in ("config", "secret_key", "database"):
        assert found[step].startswith("DENIED"), (step, found[step])
    assert found["other_environs"] is False
    assert all(status == 401 or status == 403 for status in found["stolen_admin_calls"])
    # Its own token works for its own Job and nothing of another team's.
    assert found["own_job"] == 200
    assert found["blue_jobs"] in (403, 404)
    assert "isolation uid+namespaces" in limits

    with Client(server.url, token=server.admin_token) as admin:
        admin.delete("jobs", "victim", team="blue")
