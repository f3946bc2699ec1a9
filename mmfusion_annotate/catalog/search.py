"""``mmfusion search``: events across a catalog's bags, selected with SQL run by DuckDB over the Parquet.

Why DuckDB: an embedded SQL engine that scans Parquet in place (column pruning, filter push-down), so a
fleet's catalog needs no server, and the ``--where`` a user writes is the SQL they would type into DuckDB
itself. The connection may read only the catalog's current folder (``allowed_directories``), so a
``--where`` cannot read or write other files.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import duckdb

from mmfusion_annotate.bagtools.events import severity_rank
from mmfusion_annotate.catalog.store import TABLES, require_current
from mmfusion_annotate.errors import CatalogError
from mmfusion_annotate.events.model import Severity

EVENT_VIEW = """
SELECT e.*, b.name AS bag, b.rig, b.state AS bag_state, b.vanished
FROM events e JOIN bags b ON b.path = e.bag_path
"""
"""What ``--where`` filters (as ``ev``): each event column and its bag's name, rig, state, ``vanished``."""


def connect(directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per catalog table, limited to the catalog's files."""
    current = require_current(Path(directory))
    connection = duckdb.connect()
    connection.execute("SET allowed_directories = ?", [[f"{current}/"]])
    connection.execute("SET enable_external_access = false")
    for name in TABLES:
        location = str(current / f"{name}.parquet").replace("'", "''")
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{location}')")
    return connection


def search_events(
    directory: Path,
    *,
    where: str | None = None,
    types: Collection[str] | None = None,
    min_severity: str | None = None,
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Events of the catalog's present bags matching every filter, by bag then start time then id.

    ``where`` is a SQL condition over the columns of ``EVENT_VIEW``; a bad one is a CatalogError (one line).
    ``columns`` (default all) names what each row holds: Python objects cost per value, so a long listing
    asks only for what it shows.
    """
    selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    return _query(directory, selected, where, types, min_severity)


def search_json(
    directory: Path,
    *,
    where: str | None = None,
    types: Collection[str] | None = None,
    min_severity: str | None = None,
) -> str:
    """The matching events as a JSON array of objects, every column, encoded by DuckDB (``--json``)."""
    rows = _query(directory, "to_json(ev) AS row", where, types, min_severity)
    return "[\n" + ",\n".join(row["row"] for row in rows) + "\n]" if rows else "[]"


def _query(
    directory: Path,
    selected: str,
    where: str | None,
    types: Collection[str] | None,
    min_severity: str | None,
) -> list[dict[str, Any]]:
    conditions: list[str] = ["NOT vanished"]
    parameters: list[list[str] | int] = []
    if where:
        conditions.append(f"({where})")
    if types:
        conditions.append("list_contains(?, type)")
        parameters.append(list(types))
    if min_severity is not None:
        floor = severity_rank(min_severity)
        if floor < 0:
            known = ", ".join(s.value for s in Severity)
            raise CatalogError(f"unknown severity '{min_severity}' (use one of {known})")
        conditions.append("severity_rank >= ?")
        parameters.append(floor)
    query = (
        f"SELECT {selected} FROM ({EVENT_VIEW}) AS ev WHERE {' AND '.join(conditions)} "
        "ORDER BY bag_path, start_ns, id"
    )
    connection = connect(directory)
    try:
        cursor = connection.execute(query, parameters)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as error:
        reason = str(error).splitlines()[0]
        raise CatalogError(f"--where {where!r}: {reason}" if where else reason) from None
    finally:
        connection.close()


TABLE_COLUMNS = ("bag", "bag_path", "id", "type", "severity", "t_s", "start_ns", "end_ns")
"""What ``format_search`` shows (``search_events(columns=TABLE_COLUMNS)``)."""


def format_search(events: Sequence[dict[str, Any]]) -> str:
    """A table: bag, event id, type, severity, start (seconds from the bag start), duration."""
    if not events:
        return "no events"
    rows = [("bag", "id", "type", "severity", "start_s", "duration_s")]
    for e in events:
        start, end = int(e["start_ns"]), int(e["end_ns"])
        rows.append((
            str(e["bag"]), str(e["id"]), str(e["type"]), str(e["severity"]),
            "-" if e["t_s"] is None else f"{e['t_s']:.3f}", f"{(end - start) / 1e9:.3f}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    bags = len({e["bag_path"] for e in events})
    return "\n".join([*lines, f"{len(events)} events in {bags} bags"])
