"""Slack as a front end: how fast a researcher gets a modal, and a running environment.

    .venv/bin/python bench/slack.py [--runs 20] [--warmup 2] [--mode http|socket]

A real server (`sapwood server`, local runtime, fresh home, free loopback ports) with its
Slack app pointed at the fake Slack of `sapwood.testing.slack_fake` (in this process, on
loopback): in HTTP mode the fake signs each request and posts it to `/slack/events`; in
Socket Mode the server dials the fake's socket and the fake sends envelopes. A Slack user
is linked first through the real flow (`/sapwood link`, the DM'd link, the dashboard's
confirmation as the signed-in admin).

Each run, one at a time:
- `/sapwood env create` is sent; **modal** = until the fake's `views.open` call arrived (the
  user sees the modal), **form** = until `views.update` filled it in;
- the form is submitted (a Workspace that runs `sleep 3600`, 250m CPU, 256Mi), each run
  from a channel of its own, as different researchers' commands would be (in one channel
  the app updates messages at most once a second, Slack's pace);
  **running** = from the submission until the message the app posted in the channel was
  updated to say Running (the controller started the process and the leader's message
  updater edited the message);
- the workspace is deleted through the API and the next run waits until it is gone.
Beside each Slack run, the same workspace is applied through `POST /api/v1/apply` and
polled (`GET`, every 5 ms) until its status says Running: **api_running**, the baseline
that the Slack path adds to (the message updater edits at most once a second per channel).

Goals from the issue: modal p99 < 1 s; running p95 <= 10 s. Ends with one line
`RESULT slack: ...`; ratio_vs_api = api_running_p95 / running_p95 (1 means the Slack path
adds nothing; below 1 is its cost). The load generator's and the server's CPU seconds are
reported, since these machines are small and noisy: compare ratios and medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from sapwood.testing.slack_fake import FakeSlack, FakeView

ROOT = Path(__file__).resolve().parents[1]
SAPWOOD = ROOT / ".venv" / "bin" / "sapwood"
USER = "U_BENCH"
# Each run's command comes from a channel of its own, as different researchers' would: in
# one channel the app updates a message at most once a second (Slack's pace), so the
# previous run's "deleted" update would hold back this run's "Running" by up to a second.
CHANNEL = "C_BENCH{}"
TEAM = "default"
POLL_S = 0.002
WAIT_S = 60.0
FORM = {
    "team": TEAM,
    "cpu": "250m",
    "memory": "256Mi",
    "gpu": "0",
    "tool": "command",
    "command": "sleep 3600",
    "idle_timeout": "never",
    "ttl": "none",
}
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


async def until(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """Polls ``probe`` every POLL_S until it answers; RuntimeError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_S)


class Bench:
    def __init__(self, slack: FakeSlack, mode: str, work: Path) -> None:
        self.slack, self.mode, self.work = slack, mode, work
        self.port, self.gateway_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            SAPWOOD_HOME=str(work / "home"),
            SAPWOOD_CONFIG=str(work / "home" / "config.yaml"),  # where the admin token goes
            SAPWOOD_SLACK_BOT_TOKEN=slack.bot_token,
            SAPWOOD_SLACK_SIGNING_SECRET=slack.signing_secret,
            SAPWOOD_SLACK_API_URL=slack.api_url,
            SAPWOOD_PUBLIC_URL=self.url,
        )
        if mode == "socket":
            env["SAPWOOD_SLACK_APP_TOKEN"] = slack.app_token
        self.log = (work / "server.log").open("wb")
        self.server = subprocess.Popen(
            [
                str(SAPWOOD),
                "server",
                "--port",
                str(self.port),
                "--gateway-port",
                str(self.gateway_port),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.http = httpx.AsyncClient(base_url=self.url, timeout=30)
        self.token = ""

    async def ready(self) -> None:
        config = self.work / "home" / "config.yaml"

        def up() -> bool:
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.work / 'server.log'}")
            try:
                return httpx.get(f"{self.url}/readyz").status_code == 200 and config.exists()
            except httpx.HTTPError:
                return False

        await until(up, "the server to be ready")
        match = re.search(r"^token:\s*['\"]?([^'\"\s]+)", config.read_text(), re.MULTILINE)
        assert match, "the server saved no admin token"
        self.token = match.group(1)
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        if self.mode == "socket":
            await until(lambda: self.slack.open_sockets > 0, "the server's Socket Mode link")

    async def send_command(self, text: str, *, channel: str) -> None:
        if self.mode == "socket":
            payload = self.slack.command_payload(USER, text, channel=channel)
            await self.slack.socket_send("slash_commands", payload)
            return
        response = await self.slack.post(
            self.http, self.slack.command_request(USER, text, channel=channel)
        )
        response.raise_for_status()

    async def submit(self, view: FakeView, answers: dict[str, str]) -> None:
        values = self.slack.form_values(view.id, answers)
        if self.mode == "socket":
            payload = self.slack.view_submission_payload(USER, view.id, values)
            await self.slack.socket_send("interactive", payload)
            return
        response = await self.slack.post(
            self.http, self.slack.view_submission_request(USER, view.id, values)
        )
        response.raise_for_status()
        if response.text:  # an empty ack closes the modal; anything else is an error view
            raise RuntimeError(f"the form was refused: {response.text}")

    async def link(self) -> None:
        """`/sapwood link`, then the DM'd link confirmed on the dashboard as the admin."""
        dm = self.slack.user_dm(USER)
        await self.send_command("link", channel=CHANNEL.format("LINK"))
        message = await until(
            lambda: next((m for m in self.slack.messages if m.channel == dm), None),
            "the link DM",
        )
        path = re.search(r"/ui/slack/link\?code=[\w-]+", json.dumps(message.blocks) + message.text)
        assert path, "the DM carries no link"
        async with httpx.AsyncClient(base_url=self.url) as browser:
            login = await browser.post("/ui/login", data={"token": self.token, "next": "/"})
            assert login.status_code == 303, login.text
            page = await browser.get(path.group(0))
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            code = path.group(0).split("code=", 1)[1]
            assert csrf, "the link page carries no CSRF token"
            done = await browser.post("/ui/slack/link", data={"csrf": csrf.group(1), "code": code})
            assert done.status_code == 200, done.text

    async def slack_run(self, name: str, *, channel: str) -> dict[str, float]:
        before = set(self.slack.views)
        start = time.perf_counter()
        await self.send_command("env create", channel=channel)

        def opened() -> FakeView | None:
            return next((v for i, v in self.slack.views.items() if i not in before), None)

        view = await until(opened, "views.open")
        modal = time.perf_counter()
        view = await until(lambda: view if len(view.history) > 1 else None, "views.update")
        form = time.perf_counter()
        posted = len(self.slack.messages)
        submitted = time.perf_counter()
        await self.submit(view, {**FORM, "name": name})

        def running() -> bool:
            return any(
                m.channel == channel and m.text.endswith(": Running")
                for m in self.slack.messages[posted:]
            )

        await until(running, f"the message of {name} to say Running")
        done = time.perf_counter()
        return {
            "modal": (modal - start) * 1000,
            "form": (form - start) * 1000,
            "running": (done - submitted) * 1000,
        }

    async def api_run(self, name: str) -> float:
        document = {
            "apiVersion": "sapwood/v1",
            "kind": "Workspace",
            "metadata": {"name": name, "team": TEAM},
            "spec": {
                "tool": "command",
                "command": FORM["command"],
                "resources": {"cpu": FORM["cpu"], "memory": FORM["memory"]},
                "idleTimeout": None,
            },
        }
        start = time.perf_counter()
        response = await self.http.post("/api/v1/apply", json={"objects": [document]})
        response.raise_for_status()
        path = f"/api/v1/workspaces/{name}?team={TEAM}"
        while True:
            got = await self.http.get(path)
            if got.status_code == 200 and got.json().get("status", {}).get("phase") == "Running":
                return (time.perf_counter() - start) * 1000
            if time.perf_counter() - start > WAIT_S:
                raise RuntimeError(f"{name} did not run through the API")
            await asyncio.sleep(0.005)

    async def remove(self, name: str) -> None:
        path = f"/api/v1/workspaces/{name}?team={TEAM}"
        (await self.http.delete(path)).raise_for_status()
        deadline = time.monotonic() + WAIT_S
        while (await self.http.get(path)).status_code != 404:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not deleted")
            await asyncio.sleep(0.02)

    def server_cpu_s(self) -> float:
        try:
            proc = psutil.Process(self.server.pid)
            times = proc.cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return float("nan")

    async def close(self) -> None:
        await self.http.aclose()
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        self.log.close()


async def run(runs: int, warmup: int, mode: str, work: Path) -> dict[str, Any]:
    with FakeSlack() as slack:
        bench = Bench(slack, mode, work)
        try:
            await bench.ready()
            await bench.link()
            figures: list[dict[str, float]] = []
            api: list[float] = []
            cpu_before = bench.server_cpu_s()
            for i in range(warmup + runs):
                slack_name, api_name = f"slack-{i}", f"api-{i}"
                slack_figures = await bench.slack_run(slack_name, channel=CHANNEL.format(i))
                await bench.remove(slack_name)
                api_ms = await bench.api_run(api_name)
                await bench.remove(api_name)
                if i >= warmup:
                    figures.append(slack_figures)
                    api.append(api_ms)
                print(
                    f"run {i:>3}{' (warm-up)' if i < warmup else ''}: "
                    + " ".join(f"{k}={v:.0f}ms" for k, v in slack_figures.items())
                    + f" api_running={api_ms:.0f}ms",
                    file=sys.stderr,
                )
            return {
                "figures": figures,
                "api": api,
                "server_cpu_s": bench.server_cpu_s() - cpu_before,
            }
        except BaseException:
            tail = (work / "server.log").read_text(errors="replace").splitlines()[-30:]
            print("\n".join(["the server's log ends:", *tail]), file=sys.stderr)
            raise
        finally:
            await bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--mode", choices=("http", "socket"), default="http")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sapwood-bench-slack-"))
    started = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(run(args.runs, args.warmup, args.mode, work))
    ended = resource.getrusage(resource.RUSAGE_SELF)
    loadgen_cpu_s = (ended.ru_utime - started.ru_utime) + (ended.ru_stime - started.ru_stime)
    figures, api = result["figures"], result["api"]

    def column(key: str) -> list[float]:
        return [f[key] for f in figures]

    print(f"{'':<14}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for label, values in [
        ("modal", column("modal")),
        ("form", column("form")),
        ("running", column("running")),
        ("api_running", api),
    ]:
        print(
            f"{label:<14}{percentile(values, 50):>10.1f}{percentile(values, 95):>10.1f}"
            f"{percentile(values, 99):>10.1f}{max(values):>10.1f}"
        )
    running_p95 = percentile(column("running"), 95)
    keys = {
        "mode": args.mode,
        "runs": len(figures),
        "modal_p50_ms": percentile(column("modal"), 50),
        "modal_p99_ms": percentile(column("modal"), 99),
        "form_p99_ms": percentile(column("form"), 99),
        "running_p50_ms": percentile(column("running"), 50),
        "running_p95_ms": running_p95,
        "api_running_p50_ms": percentile(api, 50),
        "api_running_p95_ms": percentile(api, 95),
        "ratio_vs_api": percentile(api, 95) / running_p95,
        "modal_goal_met": percentile(column("modal"), 99) < 1000,
        "running_goal_met": running_p95 <= 10_000,
        "loadgen_cpu_s": loadgen_cpu_s,
        "server_cpu_s": result["server_cpu_s"],
    }
    text = " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={str(v).lower()}" for k, v in keys.items()
    )
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    print(f"RESULT slack: {text}")


if __name__ == "__main__":
    main()
