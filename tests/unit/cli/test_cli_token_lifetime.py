"""`sapwood tokens create --expires-in`: a lifetime above 0s, or none for a lasting token."""

from __future__ import annotations

from typer.testing import CliRunner

from sapwood.cli.tokens import app


def test_a_lifetime_of_zero_is_refused_before_anything_is_sent() -> None:
    result = CliRunner().invoke(app, ["create", "--expires-in", "0s"])
    assert result.exit_code == 2
    assert "above 0s" in result.output
    assert "--expires-in" in result.output


def test_the_help_says_that_leaving_it_out_means_never() -> None:
    result = CliRunner().invoke(app, ["create", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "never expires" in result.output
    assert "above 0s" in result.output
