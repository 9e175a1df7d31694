"""`sapwood apply`: read files, validate every document locally, then apply all or none."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from sapwood.cli.errors import CliError
from sapwood.cli.output import object_ref, print_out
from sapwood.cli.session import TEAM_OPTION, connect
from sapwood.schemas import ApplyResult
from sapwood.specs.documents import Document, DocumentError, load_documents
from sapwood.specs.objects import SpecError, parse_object

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


def apply(
    files: list[str] = typer.Option(
        ...,
        "--filename",
        "-f",
        help="YAML or JSON file, a directory of them (not recursive), or - for stdin; repeatable",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="check everything on the server and report, changing nothing"
    ),
    team: str | None = TEAM_OPTION,
) -> None:
    """Create or update the objects in files: all of them, or none."""
    bodies = validated_bodies(read_documents(files))
    with connect(team=team) as client:
        results = client.apply(bodies, dry_run=dry_run)
    for result in results:
        print_out(apply_line(result, dry_run=dry_run))


def apply_line(result: ApplyResult, *, dry_run: bool) -> str:
    """``job/train created``, with `` (dry run)`` when nothing was written."""
    return f"{object_ref(result.object)} {result.action}" + (" (dry run)" if dry_run else "")


def read_documents(sources: Sequence[str]) -> list[Document]:
    """Every document of every source, in order; CliError for a missing file or no objects."""
    documents: list[Document] = []
    for source in sources:
        for path in _expand(source):
            text = sys.stdin.read() if path == STDIN else _read(Path(path))
            documents += load_documents(text, source="<stdin>" if path == STDIN else path)
    if not documents:
        raise CliError(f"no objects found in {', '.join(sources)}")
    return documents


def _expand(source: str) -> list[str]:
    if source == STDIN:
        return [STDIN]
    path = Path(source)
    if not path.exists():
        raise CliError(f"{source}: no such file or directory")
    if not path.is_dir():
        return [source]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise CliError(f"{source}: no {', '.join(SUFFIXES)} files in this directory")
    return [str(p) for p in files]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read: {exc}") from None


def validated_bodies(documents: Sequence[Document]) -> list[dict[str, Any]]:
    """The objects to send, each checked against its kind's spec first.

    A document ``{"items": [...]}`` (what ``sapwood get -o yaml`` prints for a list)
    stands for its items. The first invalid object raises DocumentError naming the file,
    the document (and item) and each bad field; nothing is sent then.
    """
    return [dict(body) for doc in documents for body in _objects_of(doc)]


def _objects_of(doc: Document) -> Iterator[Mapping[str, Any]]:
    where = f"{doc.source}, document {doc.index}"
    body = doc.body
    if isinstance(body, Mapping) and _is_list(body):
        for position, item in enumerate(body["items"], start=1):
            yield _checked(f"{where}, item {position}", item)
    else:
        yield _checked(where, body)


def _checked(where: str, body: object) -> Mapping[str, Any]:
    try:
        parse_object(body)
    except SpecError as exc:
        raise DocumentError(where, None, exc.errors) from None
    assert isinstance(body, Mapping)  # parse_object refuses anything else
    return body


def _is_list(body: Mapping[str, Any]) -> bool:
    return isinstance(body.get("items"), list) and body.get("kind", "List") == "List"
