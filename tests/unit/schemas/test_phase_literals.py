"""No bare phase strings: code that reads or writes an object's phase names it through
``sapwood.schemas.status.Phase``, so every phase a kind can be in is found in one enum.

The scan looks for string literals equal to a phase's value in the server (outside the
runtimes, which speak units' and Kubernetes' own phases), the CLI and the SDK.
``NOT_YET`` lists code still to move to the enums (none now).
"""

from __future__ import annotations

import ast
from pathlib import Path

import sapwood
from sapwood.schemas.status import Phase

SRC = Path(sapwood.__file__).parent
SCANNED = ("server", "cli", "client")
# Other vocabularies that share words with object phases.
OTHER_PHASES = (
    "server/runtimes",  # units' phases (UnitPhase) and Kubernetes pods' and Jobs' phases
    "server/units.py",  # UnitPhase
    "server/controller/plan/replicas.py",  # ReplicaState: a replica record's own states
)
NOT_YET: tuple[str, ...] = ()
PHASE_WORDS = {p.value for p in Phase}


def _skipped(relative: str) -> bool:
    return any(
        relative == prefix or relative.startswith(prefix.rstrip("/") + "/")
        for prefix in (*OTHER_PHASES, *NOT_YET)
    )


def phase_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is exactly a phase's value."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in PHASE_WORDS
    ]


def test_the_scan_finds_a_bare_phase() -> None:
    found = phase_literals('if obj.status.get("phase") == "Running":\n    pass\n')
    assert found == [(1, "Running")]
    assert phase_literals('phase = f"{Phase.RUNNING} since"\n') == []


def test_no_bare_phase_strings_in_server_cli_or_sdk() -> None:
    offenders = []
    for package in SCANNED:
        for path in sorted((SRC / package).rglob("*.py")):
            relative = path.relative_to(SRC).as_posix()
            if _skipped(relative):
                continue
            for line, text in phase_literals(path.read_text(encoding="utf-8")):
                offenders.append(f"{relative}:{line}: {text!r}")
    assert not offenders, "use sapwood.schemas.status.Phase (or Reason):\n" + "\n".join(offenders)
