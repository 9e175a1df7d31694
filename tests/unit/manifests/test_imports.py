"""The rendering package stands on specs, the images Sapwood runs (sapwood.images), the
standard library and PyYAML only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import sapwood.manifests

PACKAGE = Path(sapwood.manifests.__file__).parent
ALLOWED_SAPWOOD = ("sapwood.specs", "sapwood.manifests", "sapwood.images")


def imported_modules(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_no_kubernetes_client_and_no_server_in_the_rendering_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if module == "sapwood" or module.startswith(ALLOWED_SAPWOOD):
                continue  # the root only for __version__
            if top in sys.stdlib_module_names or top in ("yaml", "__future__"):
                continue
            offenders.append(f"{path.name}: {module}")
    assert offenders == []
