"""Server replicas starting at once on an empty PostgreSQL database all come up.

Each replica migrates the database as it starts (its own process, as pods are); without a
lock between them, they run the first migration at once and the later ones fail on the
tables the first just created.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from alembic.script import ScriptDirectory

from sapwood.server.store import migrate
from sapwood.server.store.engine import sync_url
from tests.conftest import _postgres_schema_url

pytestmark = pytest.mark.postgres

# Says it is ready, then waits for the go file: every process has imported Sapwood and
# stands at the start line before any migrates.
REPLICA = """
import sys, time
from pathlib import Path
from sapwood.server.store import migrate
Path(sys.argv[3]).touch()
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
migrate.upgrade(sys.argv[1])
"""
REPLICAS = 3


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_schema_url()


def test_replicas_migrate_an_empty_database_at_once(postgres_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA, postgres_url, str(go), str(tmp_path / f"ready-{n}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(REPLICAS)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < REPLICAS and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = [replica.communicate(timeout=100)[0] for replica in replicas]
    failed = [out for replica, out in zip(replicas, outputs, strict=True) if replica.returncode]
    assert failed == []
    engine = sqlalchemy.create_engine(sync_url(postgres_url))
    try:
        with engine.connect() as connection:
            found = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version"))
            scripts = ScriptDirectory.from_config(migrate.alembic_config(postgres_url))
            head = scripts.get_current_head()
            assert [row[0] for row in found] == [head]
    finally:
        engine.dispose()
