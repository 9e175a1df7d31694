"""docs/cli.md documents every command the CLI has, and no command it lacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from sapwood.cli.main import app

CLI_MD = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
# In a heading, each `sapwood WORD WORD ...` span names one command: the lowercase words up
# to the first argument or option (`KIND`, `[--team TEAM]`, `-f`).
_SPAN = re.compile(r"`sapwood ([^`]+)`")
_WORD = re.compile(r"[a-z][a-z0-9-]*")


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every runnable command under ``group``, as ``feed push``; groups recurse."""
    subcommands = getattr(group, "commands", None)
    if not subcommands:
        yield " ".join(path)
        return
    for name, sub in subcommands.items():
        yield from commands(sub, (*path, name))


def documented(markdown: str) -> set[str]:
    """The commands named in the headings of ``markdown``."""
    found: set[str] = set()
    for line in markdown.splitlines():
        if not line.startswith("#"):
            continue
        for span in _SPAN.findall(line):
            words = []
            for word in span.split():
                if not _WORD.fullmatch(word):
                    break
                words.append(word)
            found.add(" ".join(words))
    return found


def test_the_walk_finds_nested_commands() -> None:
    tree = set(commands(typer.main.get_command(app)))
    assert {"get", "feed push", "notify channels set", "install kubernetes"} <= tree
    assert "notify" not in tree
    assert "notify channels" not in tree


def test_the_headings_name_commands_up_to_their_arguments() -> None:
    markdown = (
        "### `sapwood get KIND [NAME]`\n"
        "### `sapwood teams list`, `sapwood teams create NAME`\n"
        "### `sapwood pause KIND NAME` and `sapwood resume KIND NAME`\n"
        "text that mentions `sapwood nothing` is not a heading\n"
    )
    assert documented(markdown) == {"get", "teams list", "teams create", "pause", "resume"}


def test_every_command_is_documented_and_every_documented_one_exists() -> None:
    tree = set(commands(typer.main.get_command(app)))
    docs = documented(CLI_MD.read_text())
    missing = sorted(tree - docs)
    stale = sorted(docs - tree)
    assert not missing, f"commands without a heading in docs/cli.md: {missing}"
    assert not stale, f"docs/cli.md documents commands that do not exist: {stale}"
