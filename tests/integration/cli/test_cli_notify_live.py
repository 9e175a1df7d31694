"""`sapwood notify` against a live server: the secret never reaches the terminal."""

from __future__ import annotations

from tests.integration.cli.conftest import Sapwood

SECRET = "cli-secret-never-printed"


def test_notify_channels_rules_and_deliveries(sapwood: Sapwood) -> None:
    url = "https://hooks.example.com/services/T0/B0/xyz"
    result = sapwood(
        "notify", "channels", "set", "ops", "--type", "webhook", "--url", url,
        "--secret", SECRET, "--team", "default",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    listed = sapwood("notify", "channels", "list", "--team", "default")
    assert listed.exit_code == 0, listed.output
    assert "ops" in listed.output
    assert "yes" in listed.output
    assert SECRET not in listed.output
    assert "xyz" not in listed.output
    rule = sapwood(
        "notify", "rules", "set", "fails", "--channel", "ops",
        "--events", "job.failed,preempted", "--selector", "app=x", "--team", "default",
    )  # fmt: skip
    assert rule.exit_code == 0, rule.output
    rules = sapwood("notify", "rules", "list", "--team", "default")
    assert "job.failed,preempted" in rules.output
    assert "app=x" in rules.output
    bad = sapwood(
        "notify", "rules", "set", "r2", "--channel", "ops", "--events", "job.boom",
        "--team", "default",
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "job.succeeded" in bad.output
    assert sapwood("notify", "deliveries", "--team", "default").exit_code == 0
    assert sapwood("notify", "rules", "delete", "fails", "--team", "default").exit_code == 0
    assert sapwood("notify", "channels", "delete", "ops", "--team", "default").exit_code == 0


def test_slack_app_channels_are_set_by_conversation_and_refused_without_the_app(
    sapwood: Sapwood,
) -> None:
    # This server has no Slack app: the refusal names the setting that would give it one.
    result = sapwood(
        "notify", "channels", "set", "alerts", "--type", "slack-app",
        "--slack-channel", "C0123ABCD", "--team", "default",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "SAPWOOD_SLACK_BOT_TOKEN" in result.output
    # A webhook still needs its url, and says so by name.
    result = sapwood("notify", "channels", "set", "w", "--type", "webhook", "--team", "default")
    assert result.exit_code != 0
    assert "url" in result.output
