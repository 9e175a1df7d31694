"""The JupyterLab unit: refused without the extra; the Kubernetes command matches the local
one (tests/integration/controller/test_jupyter_command.py runs the local one in a shell)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.controller.plan.units import UnitError, unit_spec
from sapwood.specs.programs import jupyter_command
from tests.unit.server.controller.views import CONTEXT, view


def test_the_missing_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UnitError) as caught:
        unit_spec(view("Workspace", "nb"), 0, CONTEXT)
    assert caught.value.reason == "JupyterNotInstalled"
    assert "pip install 'sapwood[jupyter]'" in str(caught.value)


def test_the_kubernetes_command_has_the_same_base_url_and_root_rule() -> None:
    line = jupyter_command(view("Workspace", "nb").obj, "lab")[2]  # type: ignore[arg-type]
    assert "--ServerApp.base_url=/w/lab/nb/" in line
    assert '$([ "$(id -u)" = 0 ] && echo --allow-root)' in line
