"""A JupyterLab workspace: what users see when the extra is missing, and where it is served."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sapwood.cli.describe import describe_text
from tests.integration.controller_fake.conftest import TEAM, Harness

pytestmark = pytest.mark.anyio


def notebook(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "sapwood/v1",
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"tool": "jupyter"},
    }


async def test_without_jupyterlab_the_status_event_and_describe_say_how_to_install_it(
    sw: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `jupyter` anywhere
    await sw.apply(notebook("nb"))
    await sw.until_phase("workspace", "nb", "Failed")

    nb = await sw.get("workspace", "nb")
    assert nb.status["reason"] == "JupyterNotInstalled"
    assert "pip install 'sapwood[jupyter]'" in nb.status["message"]
    events = await sw.events("workspace", "nb")
    warning = next(e for e in events if e.reason == "JupyterNotInstalled")
    assert "pip install 'sapwood[jupyter]'" in warning.message
    text = describe_text(nb, events, now=datetime.now(UTC), gateway="http://gw:8421")
    assert "JupyterNotInstalled" in text
    assert "pip install 'sapwood[jupyter]'" in text


async def test_a_running_notebook_shows_where_to_open_it(
    sw: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    jupyter = tmp_path / "jupyter"
    jupyter.write_text("#!/bin/sh\n")
    jupyter.chmod(jupyter.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    await sw.apply(notebook("nb"))
    await sw.until_phase("workspace", "nb", "Running")
    await sw.step(2)  # its replica reported ready

    nb = await sw.get("workspace", "nb")
    # JupyterLab serves under its gateway path: the status URL (read for kernel activity)
    # includes it.
    assert nb.status["url"].endswith(f"/w/{TEAM}/nb/")
    text = describe_text(nb, [], now=datetime.now(UTC), gateway="http://gw:8421")
    assert f"Open:         http://gw:8421/w/{TEAM}/nb/?token=sw_…" in text
