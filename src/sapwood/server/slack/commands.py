"""What ``/sapwood …`` asks for: the text after the command, parsed. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    ENV_CREATE = "env create"
    ENV_LIST = "env list"
    QUEUE = "queue"
    JOBS = "jobs"
    STATUS = "status"
    LOGS = "logs"
    LINK = "link"
    UNLINK = "unlink"
    HELP = "help"


USAGE = {
    Verb.ENV_CREATE: "open a form to create a research environment (a Workspace)",
    Verb.ENV_LIST: "your teams' environments, their state and links",
    Verb.QUEUE: "waiting work in the order it will start, and why each waits",
    Verb.JOBS: "your teams' jobs and their state",
    Verb.STATUS: "capacity and what is allocated, per node",
    Verb.LOGS: "`logs job NAME [--team TEAM]`: the last lines of a job's log",
    Verb.LINK: "link your Slack user to your Sapwood user (a one-time step)",
    Verb.UNLINK: "forget the link between your Slack user and your Sapwood user",
    Verb.HELP: "this help",
}
LOG_KINDS = ("job", "service", "workspace", "feed")


@dataclass(frozen=True)
class Command:
    verb: Verb
    # logs: the kind ("Job", ...) and name; every verb: the team when --team was given.
    kind: str | None = None
    name: str | None = None
    team: str | None = None


class CommandError(ValueError):
    """The text is not a command: the message says what was wrong and what is allowed."""


def parse(text: str) -> Command:
    """The command ``text`` asks for (empty text is help); CommandError otherwise."""
    words = text.split()
    team = None
    if "--team" in words:
        at = words.index("--team")
        if at + 1 >= len(words):
            raise CommandError("`--team` needs a team name, like `--team research`")
        team = words[at + 1]
        del words[at : at + 2]
    if not words:
        return Command(Verb.HELP, team=team)
    head = words[0].lower()
    if head == "env":
        sub = words[1].lower() if len(words) > 1 else ""
        if sub in ("create", "list") and len(words) == 2:
            return Command(Verb(f"env {sub}"), team=team)
        raise CommandError("`env` takes `create` or `list`, like `/sapwood env create`")
    if head == "logs":
        if len(words) != 3 or words[1].lower() not in LOG_KINDS:
            raise CommandError(
                f"`logs` takes a kind ({', '.join(LOG_KINDS)}) and a name, "
                "like `/sapwood logs job train-antinex`"
            )
        return Command(Verb.LOGS, kind=words[1].capitalize(), name=words[2], team=team)
    verbs = {v.value: v for v in Verb if " " not in v.value and v is not Verb.LOGS}
    if head in verbs and len(words) == 1:
        return Command(verbs[head], team=team)
    known = ", ".join(f"`{v.value}`" for v in Verb)
    raise CommandError(f"`{text.strip()}` is not a Sapwood command; try one of {known}")


def help_text() -> str:
    lines = [f"`/sapwood {verb.value}`: {what}" for verb, what in USAGE.items()]
    return "\n".join(lines)
