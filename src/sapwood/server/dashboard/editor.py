"""The deploy editor's checks: YAML or JSON text in, objects or errors on lines out.

Pure. Parsing is the specs' own (``load_documents``, ``parse_object``); this module adds
where each error sits in the text, by walking YAML's node tree along the error's path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from sapwood.specs.documents import DocumentError, load_documents
from sapwood.specs.objects import SpecError, parse_object

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_OBJECTS = re.compile(r"^objects\[(\d+)\]\.?")


@dataclass(frozen=True)
class LineError:
    """One message, on a line of the text (from 1); line 0 means the whole text."""

    line: int
    path: str
    message: str


@dataclass(frozen=True)
class Checked:
    """The documents when the text is valid, else every error found."""

    documents: list[dict[str, Any]]
    errors: list[LineError]


def _nodes(text: str) -> list[yaml.Node]:
    """Node trees of the non-empty documents, in the same order load_documents keeps."""
    out = []
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if node is None or node.tag == "tag:yaml.org,2002:null":
            continue
        out.append(node)
    return out


def line_of(node: yaml.Node, path: str) -> int:
    """The line (from 1) the dotted ``path`` points at, or of its deepest existing parent."""
    line = node.start_mark.line + 1
    current: yaml.Node = node
    for match in _PART.finditer(path):
        key, index = match.group(1), match.group(2)
        if isinstance(current, yaml.MappingNode) and key is not None:
            found = next(
                (
                    (k, v)
                    for k, v in current.value
                    if isinstance(k, yaml.ScalarNode) and k.value == key
                ),
                None,
            )
            if found is None:
                return line
            line, current = found[0].start_mark.line + 1, found[1]
        elif isinstance(current, yaml.SequenceNode) and index is not None:
            position = int(index)
            if position >= len(current.value):
                return line
            current = current.value[position]
            line = current.start_mark.line + 1
        else:
            return line
    return line


def check(text: str) -> Checked:
    """Every document parsed and validated against the specs, errors placed on lines."""
    if not text.strip():
        return Checked([], [LineError(0, "", "nothing to apply: the editor is empty")])
    try:
        documents = load_documents(text, source="editor")
    except DocumentError:
        return Checked([], [_syntax_error(text)])
    nodes = _nodes(text)
    errors: list[LineError] = []
    for position, doc in enumerate(documents):
        try:
            parse_object(doc.body)
        except SpecError as exc:
            node = nodes[position] if position < len(nodes) else None
            for e in exc.errors:
                line = line_of(node, e.path) if node is not None else 0
                errors.append(LineError(line, e.path or f"document {doc.index}", e.message))
    if errors:
        return Checked([], errors)
    bodies = [d.body for d in documents]
    return Checked([b for b in bodies if isinstance(b, dict)], [])


def _syntax_error(text: str) -> LineError:
    try:
        for _ in yaml.compose_all(text, Loader=yaml.SafeLoader):
            pass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            return LineError(
                mark.line + 1, "", f"invalid YAML: {problem} (column {mark.column + 1})"
            )
        return LineError(0, "", f"invalid YAML: {problem}")
    return LineError(0, "", "invalid YAML")  # pragma: no cover - load_documents agreed


def place(text: str, details: Sequence[tuple[str, str]]) -> list[LineError]:
    """Errors the apply service reported (paths like ``objects[1].spec.priority``) on lines."""
    try:
        nodes = _nodes(text)
    except yaml.YAMLError:  # pragma: no cover - checked before applying
        nodes = []
    out = []
    for path, message in details:
        match = _OBJECTS.match(path)
        if match is None or int(match.group(1)) >= len(nodes):
            out.append(LineError(0, path, message))
            continue
        rest = path[match.end() :]
        out.append(LineError(line_of(nodes[int(match.group(1))], rest), rest, message))
    return out
