"""The dashboard in a real browser (system Chromium via Playwright) against a live server.

The server runs its controller and the real local runtime, so the Job applied from the
editor really runs, logs and reports metrics. Screenshots of every page land in
test-artifacts/dashboard/.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sapwood.client import Client
from sapwood.testing.servers import LiveServer, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
WAIT_MS = 60_000

# A job that prints a few lines and logs a metric at each step, through sapwood.run.
TRAIN = (
    "import sapwood.run\n"
    "for step in range(5):\n"
    "    print(f'epoch {step} done', flush=True)\n"
    "    sapwood.run.log_metric('loss', 1.0 / (step + 1), step=step)\n"
    "sapwood.run.flush()\n"
)


JOB_YAML = f"""\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: train
spec:
  command: {json.dumps([sys.executable, "-c", TRAIN])}
  resources:
    cpu: 250m
    memory: 256Mi
"""
BAD_YAML = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: broken
spec:
  command: ["true"]
  replicas: many
"""
# Typed key by key: replicas below the minimum on line 7, an unknown field on line 8.
TYPED_BAD_YAML = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: typed
spec:
  command: ["true"]
  replicas: -1
  colour: blue
"""
TYPED_GOOD_YAML = """\
apiVersion: sapwood/v1
kind: Job
metadata:
  name: typed
spec:
  command: ["true"]
  replicas: 2
"""
WORKSPACE_YAML = """\
apiVersion: sapwood/v1
kind: Workspace
metadata:
  name: notebook
spec:
  tool: command
  command: ["sleep", "600"]
  resources:
    cpu: 250m
    memory: 128Mi
"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install the Debian package chromium to run browser tests"
    if os.environ.get("SAPWOOD_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    _require_chromium()
    with live_server(tmp_path / "home", controller=True) as running:
        try:
            yield running
        finally:
            _delete_everything(running)


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server without a controller: enough for pages that only check."""
    _require_chromium()
    with live_server(tmp_path / "home") as running:
        yield running


def _delete_everything(server: LiveServer) -> None:
    """Stops what the test started: the controller stops units of deleted objects."""
    with Client(server.url, token=server.admin_token) as admin:
        for kind in ("workspace", "job"):
            for obj in admin.list(kind):
                admin.delete(kind, obj.metadata.name, team=obj.metadata.team)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not admin.list("workspace") and not admin.list("job"):
                return
            time.sleep(0.2)


@contextmanager
def _page() -> Iterator[Page]:
    """A page of the system Chromium, waiting up to WAIT_MS for each expectation."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)  # a loaded machine runs the job slowly
            yield page
        finally:
            browser.close()


def test_sign_in_deploy_watch_a_job_and_pause_a_workspace(server: LiveServer) -> None:
    from playwright.sync_api import expect

    with _page() as page:

        def shot(name: str) -> None:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

        # Sign in: the overview sends a stranger to the form first.
        page.goto(server.url + "/")
        expect(page).to_have_url(f"{server.url}/ui/login")
        shot("login")
        page.get_by_label("Token").fill(server.admin_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        expect(page.get_by_text("Signed in as")).to_contain_text("admin")
        page.keyboard.press("Tab")  # the keyboard starts at the skip link
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        shot("overview")

        # An invalid spec: the error sits beside line 7, nothing is applied.
        page.get_by_role("link", name="Deploy").click()
        editor = page.get_by_label("Documents (YAML or JSON)")
        editor.fill(BAD_YAML)
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#gutter li.error")).to_have_attribute("data-line", "7")
        expect(page.locator('.bline.error[data-line="7"] .inline-error')).to_contain_text("integer")
        expect(page.locator("#errors")).to_contain_text("Line 7")
        shot("deploy-error")

        # Apply a Job from the editor, then follow the link to its page.
        page.get_by_label("Documents (YAML or JSON)").fill(JOB_YAML)
        page.get_by_role("button", name="Check").click()
        expect(page.locator("#result")).to_contain_text("job/train")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#result")).to_contain_text("created")
        shot("deploy-applied")
        page.locator("#result").get_by_role("link", name="job/train").click()

        # Watch it run to Succeeded; its logs stream in and its metric is charted.
        expect(page.locator("#phase")).to_have_text("Succeeded")
        expect(page.locator("#logs")).to_contain_text("epoch 4 done")
        chart = page.locator('svg[data-series="loss"] polyline')
        expect(chart).to_have_count(1)
        assert len((chart.get_attribute("points") or "").split()) == 5
        expect(page.locator("#events-h")).to_be_visible()
        shot("job")

        page.get_by_role("link", name="Workloads").click()
        expect(page.get_by_role("link", name="train")).to_be_visible()
        page.get_by_label("Kind").select_option("Job")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(f"{server.url}/ui/workloads?kind=Job&team=&phase=&selector=")
        shot("workloads")

        # A workspace: running, paused, running again.
        page.get_by_role("link", name="Deploy").click()
        page.get_by_label("Documents (YAML or JSON)").fill(WORKSPACE_YAML)
        page.get_by_role("button", name="Apply").click()
        page.locator("#result").get_by_role("link", name="workspace/notebook").click()
        expect(page.locator("#phase")).to_have_text("Running")
        shot("workspace-running")
        page.get_by_role("button", name="Pause workspace").click()
        expect(page.get_by_role("button", name="Resume workspace")).to_be_visible()
        expect(page.locator("#phase")).to_have_text("Paused")
        shot("workspace-paused")
        page.get_by_role("button", name="Resume workspace").click()
        expect(page.get_by_role("button", name="Pause workspace")).to_be_visible()
        expect(page.locator("#phase")).to_have_text("Running")

        for name, path in (
            ("queue", "/ui/queue"),
            ("models", "/ui/models"),
            ("feeds", "/ui/feeds"),
        ):
            page.goto(server.url + path)
            expect(page.locator("main h1")).to_be_visible()
            shot(name)
        page.goto(server.url + "/")
        expect(page.locator("#nodes-h")).to_be_visible()
        shot("overview-busy")

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{server.url}/ui/login")


def test_the_editor_checks_while_typing(quiet_server: LiveServer) -> None:
    from playwright.sync_api import expect

    with _page() as page:
        page.goto(quiet_server.url + "/ui/login?next=/ui/deploy")
        page.get_by_label("Token").fill(quiet_server.admin_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Deploy", exact=True)).to_be_visible()

        editor = page.get_by_label("Documents (YAML or JSON)")
        errors = page.locator("#check-errors[aria-live=polite] #errors")
        marked = page.locator("#gutter li.error")
        editor.fill("")
        # Typed, never submitted: the errors appear beside their lines after a pause.
        editor.press_sequentially(TYPED_BAD_YAML)
        expect(marked).to_have_text(["7", "8"])
        expect(page.locator('.bline.error[data-line="7"] .inline-error')).to_contain_text(
            "greater than or equal to 1"
        )
        expect(page.locator('.bline.error[data-line="8"] .inline-error')).to_contain_text(
            "unknown field"
        )
        expect(errors).to_contain_text("Line 7")
        expect(errors).to_contain_text("Line 8")
        expect(editor).to_have_attribute("aria-invalid", "true")
        expect(editor).to_be_focused()  # checking never takes the caret away
        page.screenshot(path=str(ARTIFACTS / "deploy-live-error.png"), full_page=True)
        errors.get_by_role("link", name="Line 8").click()
        expect(editor).to_be_focused()
        selected = "t => t.value.substring(t.selectionStart, t.selectionEnd)"
        assert editor.evaluate(selected) == "  colour: blue"

        # Fixed: the answer for the new text clears every mark.
        editor.press("ControlOrMeta+a")
        editor.press_sequentially(TYPED_GOOD_YAML)
        expect(page.locator(".editor")).not_to_have_class(re.compile(r"\bstale\b"))
        expect(errors).to_be_hidden()
        expect(marked).to_have_count(0)
        expect(page.locator(".inline-error")).to_have_count(0)
        expect(editor).not_to_have_attribute("aria-invalid", "true")

        # Broken again, then emptied: an empty editor shows no errors.
        editor.press("ControlOrMeta+End")
        editor.press_sequentially("  colour: blue\n")
        expect(marked).to_have_text(["8"])
        editor.press("ControlOrMeta+a")
        editor.press("Delete")
        expect(errors).to_be_hidden()
        expect(marked).to_have_count(0)
        expect(editor).to_be_focused()
