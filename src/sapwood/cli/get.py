"""`sapwood get`: one object or a list, as a table or as documents `apply` reads back."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import typer

from sapwood.cli.output import (
    dump_json,
    dump_yaml,
    object_document,
    object_table,
    objects_document,
    print_err,
    print_out,
)
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import Object
from sapwood.specs.objects import kind_of, kinds_help, plural_of
from sapwood.specs.selectors import parse_selector


class OutputFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    YAML = "yaml"
    JSON = "json"


def get(
    kind: str = typer.Argument(..., help=kinds_help()),
    name: str | None = typer.Argument(None, help="one object; all of them when left out"),
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--output", "-o", help="format"),
    team: str | None = TEAM_OPTION,
    selector: str | None = typer.Option(
        None, "--selector", "-l", help="label selector such as app=web,tier!=cache"
    ),
) -> None:
    """Show objects as a table, or as YAML/JSON that `apply` accepts."""
    canonical = kind_of(kind)
    if name is not None and selector is not None:
        raise typer.BadParameter("give a NAME or a --selector, not both", param_hint="'-l'")
    if selector is not None:
        parse_selector(selector)  # a bad term fails here, before any request
    with connect(team=team) as client:
        if name is not None:
            objects = [client.get(canonical, name)]
        else:
            objects = client.list(canonical, selector=selector)
    print_objects(canonical, objects, output=output, single=name is not None)


def print_objects(
    kind: str, objects: list[Object], *, output: OutputFormat, single: bool = False
) -> None:
    if output is OutputFormat.YAML or output is OutputFormat.JSON:
        data = object_document(objects[0]) if single else objects_document(objects)
        text = dump_yaml(data) if output is OutputFormat.YAML else dump_json(data)
        print_out(text.rstrip("\n"))
    elif not objects:
        print_err(f"No {plural_of(kind)} found.")
    else:
        now = datetime.now(UTC)
        print_out(object_table(kind, objects, now=now, wide=output is OutputFormat.WIDE))
