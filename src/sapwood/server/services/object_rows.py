"""Object rows in bulk, for an apply: the stored rows a batch names, in a query per kind
and team, and new rows with their labels, in multi-row INSERTs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Table, insert, select

from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import LabelRow, ObjectRow

if TYPE_CHECKING:
    from sapwood.server.services.objects import Desired

_NEW_ROW_COLUMNS = (
    "uid",
    "kind",
    "team",
    "name",
    "labels",
    "spec",
    "status",
    "generation",
    "resource_version",
    "created_at",
    "updated_at",
    "owner",
)
_CHUNK = 500


async def insert_new(session: AsyncSession, rows: Sequence[ObjectRow]) -> None:
    """Writes new object rows and their labels with multi-row INSERTs; sets each row's id."""
    objects: Table = ObjectRow.__table__  # type: ignore[assignment]
    labels: Table = LabelRow.__table__  # type: ignore[assignment]
    connection = await session.connection()  # Core, not the ORM's row-by-row bookkeeping
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = [{c: getattr(row, c) for c in _NEW_ROW_COLUMNS} for row in chunk]
        written = await connection.execute(
            insert(objects).returning(objects.c.uid, objects.c.id), values
        )
        ids = {uid: id_ for uid, id_ in written}
        for row in chunk:
            row.id = ids[row.uid]
        pairs = [
            {"object_id": row.id, "key": k, "value": v}
            for row in chunk
            for k, v in row.labels.items()
        ]
        if pairs:
            await connection.execute(insert(labels), pairs)


async def current_rows(
    session: AsyncSession, desired: Sequence[Desired]
) -> dict[tuple[str, str, str], ObjectRow]:
    """The stored rows the documents name, by (kind, team, name), in a query per kind and
    team."""
    names: dict[tuple[str, str], set[str]] = {}
    for item in desired:
        names.setdefault((item.obj.kind, item.team), set()).add(item.obj.metadata.name)
    out: dict[tuple[str, str, str], ObjectRow] = {}
    for (kind, team), wanted in names.items():
        rows = await session.scalars(
            select(ObjectRow).where(
                ObjectRow.kind == kind, ObjectRow.team == team, ObjectRow.name.in_(wanted)
            )
        )
        out.update({(kind, team, row.name): row for row in rows})
    return out
