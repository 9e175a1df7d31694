"""No bare phase strings: code that reads or writes an object's phase names it through
``sapwood.schemas.status.Phase``, so every phase a kind can be in is found in one enum.

The scan looks for string literals equal to a phase's value anywhere in the package. The
members of another enum may share a word with a phase (a unit's ``Running``, a
replica record's ``Succeeded``): they name their own vocabulary, so they pass. The runtimes
and the fake Kubernetes API in ``sapwood.testing`` are left out: they speak Kubernetes'
pod and Job phases.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sapwood
from sapwood.schemas.status import Phase

SRC = Path(sapwood.__file__).parent
KUBERNETES_PHASES = ("server/runtimes/", "testing/kube_")  # pods' and Jobs' phases
PHASE_WORDS = {p.value for p in Phase}


def _skipped(relative: str) -> bool:
    return relative.startswith(KUBERNETES_PHASES)


def _enum_members(tree: ast.AST) -> set[int]:
    """The ids of the literals that give an enum's members their values."""
    members: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(base).endswith("Enum") for base in node.bases
        ):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
                    members.add(id(statement.value))
    return members


def phase_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is exactly a phase's value, apart from
    the values of enum members."""
    tree = ast.parse(source)
    members = _enum_members(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in PHASE_WORDS
        and id(node) not in members
    ]


def test_the_scan_finds_a_bare_phase() -> None:
    found = phase_literals('if obj.status.get("phase") == "Running":\n    pass\n')
    assert found == [(1, "Running")]
    assert phase_literals('phase = f"{Phase.RUNNING} since"\n') == []
    other = 'class State(StrEnum):\n    RUNNING = "Running"\n\nstate = "Running"\n'
    assert phase_literals(other) == [(4, "Running")]


def test_no_bare_phase_strings_in_the_package() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if _skipped(relative):
            continue
        for line, text in phase_literals(path.read_text(encoding="utf-8")):
            offenders.append(f"{relative}:{line}: {text!r}")
    assert not offenders, "use sapwood.schemas.status.Phase (or Reason):\n" + "\n".join(offenders)
