"""Reading YAML or JSON files of one or more documents, with line numbers in errors."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from sapwood.specs.objects import AnyObject, FieldError, SpecError, parse_object


@dataclass(frozen=True)
class Document:
    """One document of a file: its position (from 1), where it came from, its content."""

    index: int
    source: str
    body: object


class DocumentError(SpecError):
    """A document that failed: says which file and which document."""

    def __init__(self, source: str, index: int | None, errors: list[FieldError]) -> None:
        self.source = source
        self.index = index
        super().__init__(errors)
        where = source if index is None else f"{source}, document {index}"
        self.args = (f"{where}: {self.args[0]}",)


def load_documents(text: str, *, source: str = "<stdin>") -> list[Document]:
    """Every non-empty document of a multi-document YAML (or JSON) text."""
    try:
        bodies = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(
            source, None, [FieldError("", f"invalid YAML at {line}{problem}")]
        ) from None
    return [Document(i, source, b) for i, b in enumerate(bodies, start=1) if b is not None]


def parse_documents(documents: list[Document]) -> list[AnyObject]:
    """Validate every document; the first invalid one raises DocumentError naming it."""
    objects = []
    for doc in documents:
        try:
            objects.append(parse_object(doc.body))
        except SpecError as exc:
            raise DocumentError(doc.source, doc.index, exc.errors) from None
    return objects
