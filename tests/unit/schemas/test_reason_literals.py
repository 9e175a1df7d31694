"""``Reason`` lists every word the server writes as a status's or an event's reason, so a
reader (the notifier's rules, the dashboard, a user's script) finds them all in one enum.

The scan reads the package's code for reasons given as literals: the first argument of
``plan.event(...)`` and ``EventNote(...)``, the reason ``record_event`` records, and any
``reason=`` keyword. The runtimes and the fake Kubernetes API are left out: their reasons
are units' (``UnitReason``) and Kubernetes' own words.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sapwood
from sapwood.schemas.status import Reason

SRC = Path(sapwood.__file__).parent
OTHER_REASONS = ("server/runtimes/", "testing/")


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def reason_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every reason the code gives as a string literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        callee = ast.unparse(node.func).rpartition(".")[2]
        given: list[ast.expr] = [k.value for k in node.keywords if k.arg == "reason"]
        if callee in ("event", "EventNote") and node.args:
            given.append(node.args[0])
        if callee == "record_event" and len(node.args) >= 3:
            given.append(node.args[2])
        found += [(node.lineno, text) for text in map(_text, given) if text is not None]
    return found


def test_the_scan_finds_the_reasons_given() -> None:
    source = (
        'plan.event("Rollout", "m")\n'
        'EventNote(PREEMPTED, "m")\n'
        'record_event(session, row, "Created", "m", now=now)\n'
        'with_phase(status, Phase.PENDING, now=now, reason="Resuming")\n'
    )
    assert reason_literals(source) == [(1, "Rollout"), (3, "Created"), (4, "Resuming")]


def test_every_reason_the_server_writes_is_a_reason() -> None:
    known = {r.value for r in Reason}
    unknown = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(OTHER_REASONS):
            continue
        for line, text in reason_literals(path.read_text(encoding="utf-8")):
            if text not in known:
                unknown.append(f"{relative}:{line}: {text!r}")
    assert not unknown, "add these to sapwood.schemas.status.Reason:\n" + "\n".join(unknown)
