"""Settings from the environment: the utilisation retention, the gateway's stale tokens, Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.settings import Settings

DAY = 86400.0


def retention(value: str | None) -> float:
    env = {} if value is None else {"SAPWOOD_UTILISATION_RETENTION": value}
    return Settings.from_env(env).controller.utilisation_retention_s


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 7 * DAY), ("", 7 * DAY), ("3600", 3600.0), ("30d", 30 * DAY), ("1h30m", 5400.0)],
)
def test_the_retention_takes_seconds_or_a_duration(value: str | None, seconds: float) -> None:
    assert retention(value) == seconds


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "must be more than 0 seconds"),
        ("-5", "must be more than 0 seconds"),
        ("0s", "must be more than 0 seconds"),
        ("a week", "is not a duration such as 30s"),
        ("400d", "between 0s and 365d"),
    ],
)
def test_an_invalid_retention_names_the_variable(value: str, problem: str) -> None:
    with pytest.raises(
        ValueError, match=f"SAPWOOD_UTILISATION_RETENTION='{value}' is invalid: .*{problem}"
    ):
        retention(value)


def test_the_gateways_stale_token_window_takes_a_duration() -> None:
    assert Settings.from_env({}).gateway.token_max_stale_s == 600.0
    stale = Settings.from_env({"SAPWOOD_GATEWAY_TOKEN_MAX_STALE": "2m"})
    assert stale.gateway.token_max_stale_s == 120.0


def test_isolation_and_single_tenant_come_from_the_environment() -> None:
    assert Settings.from_env({}).runtime.isolation is True
    assert Settings.from_env({}).runtime.single_tenant is False
    chosen = Settings.from_env({"SAPWOOD_ISOLATION": "off", "SAPWOOD_SINGLE_TENANT": "1"})
    assert chosen.runtime.isolation is False
    assert chosen.runtime.single_tenant is True
    with pytest.raises(ValueError, match="SAPWOOD_ISOLATION='maybe' is invalid: use auto or off"):
        Settings.from_env({"SAPWOOD_ISOLATION": "maybe"})


def test_the_key_file_and_the_cluster_domain_come_from_the_environment() -> None:
    assert Settings.from_env({}).secret_key_file is None
    default = Settings.from_env({}).runtime.kubernetes.api_url
    assert default == "http://sapwood.sapwood.svc.cluster.local"
    settings = Settings.from_env(
        {"SAPWOOD_SECRET_KEY_FILE": "/etc/sapwood/key/secret.key",
         "SAPWOOD_KUBE_CLUSTER_DOMAIN": "corp.internal"}
    )  # fmt: skip
    assert settings.secret_key_file == Path("/etc/sapwood/key/secret.key")
    assert settings.runtime.kubernetes.api_url == "http://sapwood.sapwood.svc.corp.internal"


def test_slack_is_off_until_a_bot_token_is_set() -> None:
    settings = Settings.from_env({})
    assert not settings.slack.enabled
    assert not settings.slack.socket_mode


def test_slack_secrets_come_from_settings_or_files_and_never_print(tmp_path: Path) -> None:
    (tmp_path / "bot").write_text("xoxb-from-file\n")
    env = {
        "SAPWOOD_SLACK_BOT_TOKEN_FILE": str(tmp_path / "bot"),
        "SAPWOOD_SLACK_APP_TOKEN": "xapp-inline",
        "SAPWOOD_SLACK_SIGNING_SECRET": "sign-me",
    }
    slack = Settings.from_env(env).slack
    assert slack.enabled
    assert slack.socket_mode
    assert slack.bot_token is not None
    assert slack.bot_token.get_secret_value() == "xoxb-from-file"
    shown = repr(slack) + str(slack)
    assert "xoxb-from-file" not in shown
    assert "xapp-inline" not in shown
    assert "sign-me" not in shown


@pytest.mark.parametrize(
    ("env", "words"),
    [
        (
            {"SAPWOOD_SLACK_BOT_TOKEN": "x", "SAPWOOD_SLACK_BOT_TOKEN_FILE": "/f"},
            "set SAPWOOD_SLACK_BOT_TOKEN or SAPWOOD_SLACK_BOT_TOKEN_FILE, not both",
        ),
        ({"SAPWOOD_SLACK_APP_TOKEN_FILE": "/no/such/file"}, "SAPWOOD_SLACK_APP_TOKEN_FILE"),
    ],
)
def test_a_bad_slack_secret_setting_is_named(env: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Settings.from_env(env)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("\n")
    env = {"SAPWOOD_SLACK_SIGNING_SECRET_FILE": str(tmp_path / "secret")}
    with pytest.raises(ValueError, match="is empty"):
        Settings.from_env(env)
