"""`sapwood slack status` against a live server without the Slack app."""

from __future__ import annotations

from tests.integration.cli.conftest import Sapwood


def test_slack_status_says_the_app_is_off(sapwood: Sapwood) -> None:
    result = sapwood("slack", "status")
    assert result.exit_code == 0, result.output
    assert "mode: off" in result.output
