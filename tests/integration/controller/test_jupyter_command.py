"""The JupyterLab command as a shell runs it: root or not, a HOME it can write, served under
its gateway path. A stub ``jupyter`` prints what it was given; the shell is real, so these
tests start processes and live here rather than in tests/unit."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from sapwood.server.controller.plan.units import unit_spec
from tests.unit.server.controller.views import CONTEXT, TEAM, view


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _run(command: tuple[str, ...], *, bin_dir: Path, home: str, cwd: Path) -> list[str]:
    """Runs the unit's command with a stub `jupyter` that prints its arguments and HOME."""
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "PORT": "8888",
        "HOME": home,
        "SAPWOOD_TOKEN": "sw_x_y",
    }
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.fixture
def stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "jupyter", '#!/bin/sh\necho "HOME=$HOME"\nfor a; do echo "$a"; done\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return bin_dir


@pytest.mark.parametrize(("uid", "allow_root"), [("0", True), ("1234", False)])
def test_jupyter_gets_allow_root_only_when_it_runs_as_root(
    stubs: Path, tmp_path: Path, uid: str, allow_root: bool
) -> None:
    _executable(stubs / "id", f"#!/bin/sh\necho {uid}\n")  # who the workload runs as
    unit = unit_spec(view("Workspace", "nb"), 0, CONTEXT)

    args = _run(unit.command, bin_dir=stubs, home=str(tmp_path), cwd=tmp_path)

    assert ("--allow-root" in args) is allow_root
    assert "lab" in args
    assert "--port=8888" in args
    assert "--ServerApp.token=sw_x_y" in args


def test_jupyter_is_served_under_the_workspaces_gateway_path(stubs: Path, tmp_path: Path) -> None:
    unit = unit_spec(view("Workspace", "nb"), 0, CONTEXT)
    args = _run(unit.command, bin_dir=stubs, home=str(tmp_path), cwd=tmp_path)
    assert f"--ServerApp.base_url=/w/{TEAM}/nb/" in args


def test_a_home_jupyter_cannot_write_becomes_the_working_directory(
    stubs: Path, tmp_path: Path
) -> None:
    unit = unit_spec(view("Workspace", "nb"), 0, CONTEXT)
    work = tmp_path / "work"
    work.mkdir()
    args = _run(unit.command, bin_dir=stubs, home="/nonexistent/home", cwd=work)
    assert args[0] == f"HOME={work}"
