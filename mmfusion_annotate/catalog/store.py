"""The catalog folder: Parquet tables written atomically, read back, and updated bag by bag.

Layout: ``DIR/current`` is a symbolic link to the newest generation folder (``DIR/v<schema>-<ns>/``)
holding ``bags.parquet``, ``topics.parquet``, ``events.parquet``, ``review_items.parquet``,
``prelabel_counts.parquet`` and ``catalog.json`` (schema version). Why a new folder and a link swap: a
Parquet file cannot be appended to, and a reader must never see half a catalog, so each update writes a
complete generation beside the old one and then replaces the link (``rename`` is atomic); a killed index
leaves the previous generation in place and at most a ``.tmp-*`` folder, removed by the next update.
pyarrow writes the files (the Parquet reference implementation; DuckDB, pandas and Spark read them).
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from mmfusion_annotate.catalog.bag_index import DEFAULT_WINDOW_S, BagIndex, bag_stat, find_bags, index_bag
from mmfusion_annotate.errors import CatalogError

SCHEMA_VERSION = 2
"""Raised whenever a table gains, loses or changes a column; an older catalog is rebuilt by ``index``."""
CURRENT = "current"
MANIFEST = "catalog.json"
_TS = pa.timestamp("ns", tz="UTC")
_IDS = pa.list_(pa.int64())

TABLES: dict[str, pa.Schema] = {
    "bags": pa.schema([
        ("path", pa.string()), ("name", pa.string()), ("state", pa.string()), ("error", pa.string()),
        ("fingerprint", pa.string()), ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()),
        ("files", pa.int32()), ("start_ns", pa.int64()), ("end_ns", pa.int64()), ("start_time", _TS),
        ("duration_s", pa.float64()), ("message_count", pa.int64()), ("compression", pa.string()),
        ("rig", pa.string()), ("dropped", pa.int64()), ("read_losses", pa.int32()),
        ("event_count", pa.int32()), ("review_item_count", pa.int32()), ("labels_read", pa.bool_()),
        ("labels_source", pa.string()), ("vanished", pa.bool_()), ("indexed_ns", pa.int64()),
    ]),
    "topics": pa.schema([
        ("bag_path", pa.string()), ("topic", pa.string()), ("type", pa.string()),
        ("message_count", pa.int64()), ("rate_hz", pa.float64()), ("static", pa.bool_()),
        ("reliability", pa.string()), ("durability", pa.string()), ("dropped_queue", pa.int64()),
        ("dropped_io", pa.int64()),
    ]),
    "events": pa.schema([
        ("bag_path", pa.string()), ("id", pa.string()), ("type", pa.string()), ("category", pa.string()),
        ("severity", pa.string()), ("severity_rank", pa.int8()), ("start_ns", pa.int64()),
        ("peak_ns", pa.int64()), ("end_ns", pa.int64()), ("detected_ns", pa.int64()), ("start_time", _TS),
        ("t_s", pa.float64()), ("object_ids", _IDS), ("sensor", pa.string()),
        ("evidence", pa.map_(pa.string(), pa.float64())), ("rule", pa.string()),
        ("rule_version", pa.string()), ("extra", pa.string()),
    ]),
    "review_items": pa.schema([
        ("bag_path", pa.string()), ("stamp_ns", pa.int64()), ("t_s", pa.float64()), ("reason", pa.string()),
        ("modalities", pa.string()), ("priority", pa.float64()), ("object_ids", _IDS),
        ("camera", pa.string()), ("detail", pa.string()), ("severity", pa.float64()),
        ("confidence", pa.float64()), ("evidence", pa.map_(pa.string(), pa.float64())),
    ]),
    "prelabel_counts": pa.schema([
        ("bag_path", pa.string()), ("class", pa.string()), ("window_start_ns", pa.int64()),
        ("window_s", pa.float64()), ("count", pa.int64()), ("tracks", pa.int32()),
    ]),
}  # fmt: skip
"""Every table's columns and types (the README's catalog schema section documents them)."""

MapFn = Callable[[Callable[[Path], BagIndex], Sequence[Path]], Iterable[BagIndex]]


@dataclass
class IndexReport:
    """What one ``index_paths`` run did; ``failed`` and ``notes`` are one line each."""

    catalog: Path
    found: int = 0
    indexed: int = 0
    unchanged: int = 0
    vanished: int = 0
    events: int = 0
    bytes_indexed: int = 0
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False


# --- reading ------------------------------------------------------------------------------------------


def generation_dir(directory: Path) -> Path | None:
    """The folder of the catalog's current tables; None when ``directory`` holds no catalog yet."""
    link = Path(directory) / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def schema_version(directory: Path) -> int:
    """The schema version the catalog at ``directory`` was written with (CatalogError if unreadable)."""
    current = generation_dir(directory)
    if current is None:
        raise CatalogError(
            f"{directory}: no catalog here (make one with `mmfusion index PATH --catalog DIR`)"
        )
    try:
        manifest = json.loads((current / MANIFEST).read_text(encoding="utf-8"))
        return int(manifest["schema_version"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CatalogError(
            f"{current / MANIFEST}: unreadable catalog manifest; rebuild the catalog"
        ) from None


def require_current(directory: Path) -> Path:
    """The current generation folder of a catalog of this schema version; else a CatalogError saying how
    to rebuild it."""
    version = schema_version(directory)
    if version != SCHEMA_VERSION:
        age = "an older" if version < SCHEMA_VERSION else "a newer"
        raise CatalogError(
            f"{directory}: catalog schema version {version} is {age} one than this mmfusion's "
            f"({SCHEMA_VERSION}); rebuild it with `mmfusion index PATH... --catalog {directory}`"
        )
    current = generation_dir(directory)
    assert current is not None, "schema_version found the catalog"
    return current


def read_tables(directory: Path) -> dict[str, pa.Table]:
    """Every table of the catalog at ``directory`` (of this schema version)."""
    current = require_current(directory)
    return {
        name: pq.read_table(current / f"{name}.parquet", schema=schema) for name, schema in TABLES.items()
    }


# --- writing ------------------------------------------------------------------------------------------


def write_tables(directory: Path, tables: dict[str, pa.Table]) -> Path:
    """Write ``tables`` as a new generation and make it current atomically; returns its folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(".tmp-*"):  # left by a killed index
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory))
    try:
        for name, schema in TABLES.items():
            pq.write_table(tables[name].cast(schema), tmp / f"{name}.parquet")
        manifest = {"schema_version": SCHEMA_VERSION, "written_ns": time.time_ns()}
        (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        for path in tmp.iterdir():
            _fsync(path)
        _fsync(tmp)
        generation = directory / f"v{SCHEMA_VERSION}-{time.time_ns()}"
        os.rename(tmp, generation)
        link = directory / ".current.tmp"
        link.unlink(missing_ok=True)
        os.symlink(generation.name, link)
        previous = generation_dir(directory)
        os.replace(link, directory / CURRENT)
        _fsync(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    keep = {generation.name, previous.name if previous else None}  # a reader may still be on the previous
    for old in directory.glob("v*-*"):
        if old.is_dir() and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return generation


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def empty_tables() -> dict[str, pa.Table]:
    return {name: schema.empty_table() for name, schema in TABLES.items()}


def result_tables(results: Sequence[BagIndex]) -> dict[str, pa.Table]:
    """The rows of ``results`` as one table per catalog table."""
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    for result in results:
        rows["bags"].append({**result.bag, "start_time": result.bag.get("start_ns"), "vanished": False})
        for name in ("topics", "events", "review_items", "prelabel_counts"):
            extra = (lambda r: {"start_time": r["start_ns"]}) if name == "events" else (lambda r: {})
            rows[name] += [{"bag_path": result.path, **r, **extra(r)} for r in getattr(result, name)]
    return {name: pa.Table.from_pylist(rows[name], schema=schema) for name, schema in TABLES.items()}


# --- updating -----------------------------------------------------------------------------------------


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One ``index`` at a time per catalog: two would each write a generation without the other's bags."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(f"{directory}: another `mmfusion index` is updating this catalog") from None
        yield


def index_paths(
    paths: Sequence[Path],
    catalog: Path,
    *,
    map_fn: MapFn = map,
    labels: bool = True,
    window_s: float = DEFAULT_WINDOW_S,
    progress: bool = False,
) -> IndexReport:
    """Index the bags under ``paths`` into ``catalog``: new and changed bags are read (through ``map_fn``,
    which maps ``index_bag`` over them), unchanged ones kept, vanished ones under ``paths`` marked.

    One atomic write at the end, or at an interrupt with the bags read so far (a re-run reads the rest).
    """
    catalog = Path(catalog)
    report = IndexReport(catalog)
    with _locked(catalog):
        previous, extra_paths, rebuild = _previous(catalog, report)
        roots = [Path(os.path.abspath(p)) for p in paths]
        found = _found_bags([*roots, *extra_paths], report)
        known = {row["path"]: row for row in previous["bags"].to_pylist()}
        todo = []
        for bag in found:
            row = known.get(str(bag))
            try:
                fingerprint = bag_stat(bag)[0]
            except OSError:
                fingerprint = None
            if (
                row
                and not row["vanished"]
                and row["fingerprint"] == fingerprint
                and (row["labels_read"] or not labels or row["state"] == "damaged")
            ):
                report.unchanged += 1
                if row["state"] == "damaged":
                    report.failed.append(f"{bag}: {row['error']} (unchanged since the last index)")
            else:
                todo.append(bag)
        present = {str(bag) for bag in found}
        gone = [
            p for p, row in known.items() if not row["vanished"] and p not in present and _under(p, roots)
        ]
        read: list[BagIndex] = []
        work = functools.partial(index_bag, labels=labels, window_s=window_s)
        try:
            with tqdm(total=len(todo), unit="bag", desc="index", disable=not progress or not todo) as bar:
                for result in map_fn(work, todo):
                    read.append(result)
                    if result.error:
                        report.failed.append(f"{result.path}: {result.error}")
                    report.bytes_indexed += result.size_bytes
                    report.events += len(result.events)
                    bar.update(1)
        finally:
            report.indexed, report.vanished = len(read), len(gone)
            if read or gone or rebuild:
                write_tables(catalog, _merge(previous, read, gone))
                report.written = True
    return report


def _previous(catalog: Path, report: IndexReport) -> tuple[dict[str, pa.Table], list[Path], bool]:
    """The catalog's tables, the paths of bags to read again, and whether a new catalog must be written
    even when no bag is read: none yet, or one of an older schema (its rows are not reused)."""
    current = generation_dir(catalog)
    if current is None:
        return empty_tables(), [], True
    version = schema_version(catalog)
    if version >= SCHEMA_VERSION:  # a newer one is refused: rebuilding it would lose what it holds
        return read_tables(catalog), [], False
    try:
        old_paths = pq.read_table(current / "bags.parquet", columns=["path"])
        paths = [Path(p) for p in old_paths.column("path").to_pylist() if p and Path(p).exists()]
    except (OSError, KeyError, pa.ArrowException):
        paths = []
    report.notes.append(
        f"{catalog}: catalog schema version {version}, this mmfusion writes {SCHEMA_VERSION}: rebuilding it "
        f"(every bag read again, {len(paths)} from the old catalog)"
    )
    return empty_tables(), paths, True


def _found_bags(paths: Sequence[Path], report: IndexReport) -> list[Path]:
    found: dict[Path, None] = {}
    for path in paths:
        if not path.exists():
            report.failed.append(f"{path}: no such file or folder")
            continue
        bags = list(find_bags(path))
        if not bags:
            report.failed.append(f"{path}: no bag found (no metadata.yaml or .mcap file under it)")
        found.update(dict.fromkeys(bags))
    report.found = len(found)
    return list(found)


def _under(path: str, roots: Sequence[Path]) -> bool:
    return any(Path(path) == root or Path(path).is_relative_to(root) for root in roots)


def _merge(
    previous: dict[str, pa.Table], read: Sequence[BagIndex], gone: Sequence[str]
) -> dict[str, pa.Table]:
    """``previous`` without the rows of the bags read again, plus theirs; vanished bags flagged."""
    fresh = result_tables(read)
    replaced = pa.array([r.path for r in read], pa.string())
    merged = {}
    for name, table in previous.items():
        key = "path" if name == "bags" else "bag_path"
        kept = table.filter(pc.invert(pc.is_in(table[key], value_set=replaced)))
        merged[name] = pa.concat_tables([kept, fresh[name]])
    if gone:
        bags = merged["bags"]
        flag = pc.or_(bags["vanished"], pc.is_in(bags["path"], value_set=pa.array(list(gone), pa.string())))
        merged["bags"] = bags.set_column(bags.schema.get_field_index("vanished"), "vanished", flag)
    return merged
