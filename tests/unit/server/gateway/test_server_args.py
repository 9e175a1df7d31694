"""The gateway's command line: connection limits from options and the environment."""

from __future__ import annotations

import pytest

from sapwood.server.gateway.server import parse_args


def test_connection_limits_default_to_uvicorn_like_values() -> None:
    args = parse_args([], {})
    assert args.keep_alive_timeout == 5.0
    assert args.header_timeout == 10.0
    assert args.max_connections == 4096


def test_the_keep_alive_timeout_comes_from_the_environment_unless_given() -> None:
    env = {"SAPWOOD_GATEWAY_KEEP_ALIVE_S": "2.5"}
    assert parse_args([], env).keep_alive_timeout == 2.5
    assert parse_args(["--keep-alive-timeout", "1"], env).keep_alive_timeout == 1.0


def test_options_are_read() -> None:
    args = parse_args(["--header-timeout", "0.5", "--max-connections", "10"], {})
    assert (args.header_timeout, args.max_connections) == (0.5, 10)


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--keep-alive-timeout", "0"], {}, "--keep-alive-timeout"),
        (["--header-timeout", "soon"], {}, "--header-timeout"),
        (["--max-connections", "0"], {}, "--max-connections"),
        ([], {"SAPWOOD_GATEWAY_KEEP_ALIVE_S": "-1"}, "SAPWOOD_GATEWAY_KEEP_ALIVE_S"),
    ],
)
def test_bad_values_stop_with_the_option_named(
    argv: list[str], env: dict[str, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv, env)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err
