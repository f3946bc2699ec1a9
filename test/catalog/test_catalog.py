"""The fleet catalog: ``mmfusion index`` / ``search`` / ``clip --catalog`` over small generated bags.

The fleet (made once per module): two event bags, a bag from another tool (rosbags, no events) and a 1 s
synthetic drive replayed through the pipeline (review items, pre-labels). What the catalog holds is
compared with what the single-bag readers (``bag_info``, ``list_events``, the export's label reader) say.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fleet_bags import T0, cut_off_copy, write_event_bag, write_other_tool_bag
from rigs import write_small_rig

from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.info import bag_info
from mmfusion_annotate.bagtools.recover import recover_bag
from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.catalog import SCHEMA_VERSION, index_paths, store
from mmfusion_annotate.catalog.search import search_events
from mmfusion_annotate.catalog.store import MANIFEST, generation_dir, read_tables
from mmfusion_annotate.cli import main
from mmfusion_annotate.export.bag_labels import read_bag_labels
from mmfusion_annotate.recording.bag_dir import carry_rig
from mmfusion_annotate.rig import load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    write_event_bag(root / "day1" / "drive_a")
    write_event_bag(root / "day1" / "drive_b", t0=T0 + 3600 * 10**9, compression="none")
    write_other_tool_bag(root / "day2" / "other_tool")
    return root


@pytest.fixture(scope="module")
def annotated(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("sim")
    rig_file = write_small_rig(work)
    rig = load_rig(rig_file)
    scenario = load_scenario("cut_in").model_copy(update={"duration_s": 1.0})
    write_bag(Drive(rig, scenario, seed=3), work / "sim")
    replay_bag(work / "sim", work / "annotated", rig)
    carry_rig(rig_file, work / "annotated")
    return work / "annotated"


@pytest.fixture(scope="module")
def catalog(fleet, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("catalog") / "fleet_catalog"
    report = index_paths([fleet], directory)
    assert (report.found, report.indexed, report.failed) == (3, 3, [])
    return directory


def _by_bag(table, bag: Path) -> list[dict]:
    return [row for row in table.to_pylist() if row.get("bag_path", row.get("path")) == str(bag)]


def test_index_holds_what_the_single_bag_readers_see(fleet, catalog):
    tables = read_tables(catalog)
    bags = {row["name"]: row for row in tables["bags"].to_pylist()}
    assert set(bags) == {"drive_a", "drive_b", "other_tool"}
    assert {row["state"] for row in bags.values()} == {"clean"}
    for bag in (fleet / "day1" / "drive_a", fleet / "day2" / "other_tool"):
        info = bag_info(bag)
        row = bags[bag.name]
        assert (row["start_ns"], row["end_ns"], row["message_count"]) == (
            info.start_ns, info.end_ns, info.message_count
        )  # fmt: skip
        counts = {t["topic"]: t["message_count"] for t in _by_bag(tables["topics"], bag)}
        assert counts == {t.name: t.message_count for t in info.topics}
        assert [e["id"] for e in _by_bag(tables["events"], bag)] == [e["id"] for e in list_events(bag)]
    assert not _by_bag(tables["events"], fleet / "day2" / "other_tool")  # another tool's bag: no events
    brake = next(e for e in _by_bag(tables["events"], fleet / "day1" / "drive_a") if e["id"] == "ev-brake")
    assert brake["type"] == "hard_braking" and brake["severity"] == "critical"
    assert brake["category"] == "driving" and brake["object_ids"] == [7] and brake["rule"] == "hard_braking"
    assert dict(brake["evidence"]) == {"peak_decel_mps2": -6.5}
    assert brake["start_ns"] == T0 + 1_200_000_000 and brake["t_s"] == pytest.approx(1.2)


@pytest.mark.slow
def test_review_items_and_pre_label_counts_match_the_export_reader(annotated, tmp_path):
    bag = annotated
    rig = load_rig(bag / "rig.yaml")
    labels = read_bag_labels(bag, rig)
    assert index_paths([bag], tmp_path / "catalog").indexed == 1
    tables = read_tables(tmp_path / "catalog")
    row = tables["bags"].to_pylist()[0]
    assert (row["rig"], row["state"], row["labels_read"]) == (rig.name, "clean", True)
    assert [e["id"] for e in _by_bag(tables["events"], bag)] == [e["id"] for e in list_events(bag)]
    review = _by_bag(tables["review_items"], bag)
    assert len(review) == sum(len(f.review) for f in labels.frames) > 0
    assert Counter(r["reason"] for r in review) == Counter(
        i.reason for f in labels.frames for i in f.review
    )
    counts = Counter()
    for row in _by_bag(tables["prelabel_counts"], bag):
        counts[row["class"]] += row["count"]
    assert counts == Counter(o.meta["class"] for f in labels.frames for o in f.objects)


def test_search_filters_by_type_severity_and_sql_and_prints_json(catalog, capsys):
    assert main(["search", "--catalog", str(catalog), "--type", "hard_braking", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(e["bag"], e["id"]) for e in found] == [("drive_a", "ev-brake"), ("drive_b", "ev-brake")]
    assert found[0]["evidence"] == {"peak_decel_mps2": -6.5} and found[0]["start_time"].startswith(
        "2023-11-14"
    )
    drives = "bag LIKE 'drive_%'"
    assert main(["search", "--catalog", str(catalog), "--where", drives, "--min-severity", "critical",
                 "--json"]) == 0  # fmt: skip
    assert {e["type"] for e in json.loads(capsys.readouterr().out)} == {"hard_braking"}
    labelled = "EXISTS (SELECT 1 FROM review_items r WHERE r.bag_path = ev.bag_path)"  # the other tables
    assert {e["bag"] for e in search_events(catalog, where=f"NOT {labelled}")} == {"drive_a", "drive_b"}
    assert search_events(catalog, where=labelled) == []
    late = f"sensor = 'cam_front' AND start_ns > {T0 + 3000 * 10**9}"
    assert main(["search", "--catalog", str(catalog), "--where", late]) == 0
    out = capsys.readouterr().out
    assert "drive_b" in out and "drive_a" not in out and "1 events in 1 bags" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--where", "no_such_column = 1"], "no_such_column"),
        (["--where", "type = "], "syntax error"),
        (["--where", "1=1) UNION SELECT * FROM read_csv('/etc/passwd') --"], "disabled"),
        (["--min-severity", "huge"], "unknown severity 'huge'"),
    ],
)
def test_bad_search_input_is_one_line_and_exit_2(catalog, capsys, args, expected):
    assert main(["search", "--catalog", str(catalog), *args]) == 2
    err = capsys.readouterr().err
    assert expected in err.lower() and err.count("\n") == 1 and "Traceback" not in err


def test_clip_catalog_cuts_every_match_and_reports_failures(catalog, tmp_path, capsys):
    args = ["clip", "--catalog", str(catalog), "--where", "type = 'hard_braking'", "--before", "0.2",
            "--after", "0.2", "-o", str(tmp_path / "clips")]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cut 2 clips" in out and "0 failed" in out
    for bag in ("drive_a", "drive_b"):
        clip = tmp_path / "clips" / bag / "ev-brake"
        assert [e["id"] for e in list_events(clip)] == ["ev-brake"]
        assert {t.name for t in bag_info(clip).topics} >= {"/tf_static", "/imu"}
    assert main(args) == 1  # the clip folders are taken now: each clip fails, the run goes on
    out = capsys.readouterr().out
    assert "cut 0 clips" in out and "2 failed" in out and out.count("FAILED: ") == 2


def test_clip_catalog_arguments_are_checked(catalog, fleet, tmp_path, capsys):
    bag = str(fleet / "day1" / "drive_a")
    assert main(["clip", bag, "--catalog", str(catalog), "-o", str(tmp_path / "c")]) == 2
    assert main(["clip", bag, "--type", "hard_braking", "--where", "1=1", "-o", str(tmp_path / "c")]) == 2
    assert main(["clip", "--type", "hard_braking", "-o", str(tmp_path / "c")]) == 2
    assert (
        main(["clip", "--catalog", str(catalog), "--where", "type = 'none'", "-o", str(tmp_path / "c")]) == 2
    )
    assert capsys.readouterr().err.count("error:") == 4


def test_incremental_index_skips_unchanged_rereads_changed_and_marks_vanished(tmp_path, capsys):
    bags, catalog = tmp_path / "bags", tmp_path / "catalog"
    write_event_bag(bags / "a")
    write_event_bag(bags / "b", steps=20)
    first = index_paths([bags], catalog)
    assert (first.indexed, first.unchanged, first.events) == (2, 0, 3)  # b ends before its dropout
    generation = generation_dir(catalog)
    again = index_paths([bags], catalog)
    assert (again.indexed, again.unchanged, again.written) == (0, 2, False)
    assert generation_dir(catalog) == generation  # nothing changed: nothing written
    shutil.rmtree(bags / "b")
    write_event_bag(bags / "b", steps=30, t0=T0 + 10**9)  # re-recorded: other size, other events' times
    write_event_bag(bags / "c")
    changed = index_paths([bags], catalog)
    assert (changed.indexed, changed.unchanged) == (2, 1)
    starts = {
        e["bag_path"]: e["start_ns"]
        for e in read_tables(catalog)["events"].to_pylist()
        if e["id"] == "ev-brake"
    }
    assert starts[str(bags / "b")] == T0 + 10**9 + 1_200_000_000 and len(starts) == 3
    shutil.rmtree(bags / "a")
    gone = index_paths([bags], catalog)
    assert (gone.vanished, gone.indexed) == (1, 0)
    vanished = {r["name"]: r["vanished"] for r in read_tables(catalog)["bags"].to_pylist()}
    assert vanished == {"a": True, "b": False, "c": False}
    assert main(["search", "--catalog", str(catalog), "--type", "hard_braking", "--json"]) == 0
    assert {e["bag"] for e in json.loads(capsys.readouterr().out)} == {"b", "c"}
    assert index_paths([bags / "c"], catalog).vanished == 0  # bags outside the paths given are left alone


def test_damaged_and_non_bag_paths_are_reported_and_the_rest_indexed(tmp_path, capsys):
    bags, catalog = tmp_path / "bags", tmp_path / "catalog"
    write_event_bag(bags / "good")
    cut_off_copy(write_event_bag(tmp_path / "source"), bags / "crashed")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a bag")
    fake = bags / "fake.mcap"
    fake.write_bytes(b"not an mcap file at all")
    args = ["index", str(bags), str(notes), str(tmp_path / "missing"), "--catalog", str(catalog)]
    assert main(args) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mmfusion index: ")]
    assert len(err) == 4  # one line each (besides the progress bar)
    for name, reason in (("crashed", "bag recover"), ("notes.txt", "not a bag"), ("missing", "no such"),
                         ("fake.mcap", "mcap")):  # fmt: skip
        assert any(name in line and reason in line.lower() for line in err), (name, err)
    bags_table = {r["name"]: r for r in read_tables(catalog)["bags"].to_pylist()}
    assert bags_table["good"]["state"] == "clean" and bags_table["good"]["event_count"] == 2
    assert bags_table["crashed"]["state"] == "damaged" and "recover" in bags_table["crashed"]["error"]
    assert main(["index", str(bags / "crashed"), "--catalog", str(catalog)]) == 1  # still damaged: said again
    assert "unchanged since the last index" in capsys.readouterr().err
    recover_bag(bags / "crashed")
    assert main(["index", str(bags / "crashed"), "--catalog", str(catalog)]) == 0
    recovered = next(r for r in read_tables(catalog)["bags"].to_pylist() if r["name"] == "crashed")
    assert recovered["state"] == "recovered" and recovered["error"] is None


def test_a_write_that_fails_midway_leaves_the_previous_catalog_readable(tmp_path, monkeypatch, capsys):
    bags, catalog = tmp_path / "bags", tmp_path / "catalog"
    write_event_bag(bags / "a")
    index_paths([bags], catalog)
    before = read_tables(catalog)
    (catalog / ".tmp-killed").mkdir()  # what a killed index leaves: a half-written generation
    (catalog / ".tmp-killed" / "events.parquet").write_bytes(b"PAR1 half")
    write_event_bag(bags / "b")
    calls = []
    real_write = pq.write_table

    def failing_write(table, where, **kwargs):
        calls.append(where)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(where))
        return real_write(table, where, **kwargs)

    monkeypatch.setattr(store.pq, "write_table", failing_write)
    assert main(["index", str(bags), "--catalog", str(catalog)]) == 2
    assert "no space left on device" in capsys.readouterr().err
    after = read_tables(catalog)
    assert all(after[name].equals(before[name]) for name in before)
    assert not any(p.name.startswith(".tmp-") for p in catalog.iterdir())  # the stale one removed too
    monkeypatch.setattr(store.pq, "write_table", real_write)
    assert index_paths([bags], catalog).indexed == 1
    assert len(read_tables(catalog)["bags"]) == 2


def test_a_catalog_of_an_older_schema_is_refused_by_search_and_rebuilt_by_index(tmp_path, capsys):
    bags, catalog = tmp_path / "bags", tmp_path / "catalog"
    write_event_bag(bags / "a")
    index_paths([bags], catalog)
    manifest = generation_dir(catalog) / MANIFEST
    manifest.write_text(json.dumps({"schema_version": SCHEMA_VERSION - 1}))
    assert main(["search", "--catalog", str(catalog)]) == 2
    err = capsys.readouterr().err
    assert "older" in err and "mmfusion index" in err and err.count("\n") == 1
    assert main(["index", str(tmp_path / "elsewhere_empty"), "--catalog", str(catalog)]) == 1
    err = capsys.readouterr().err
    assert sum("schema version" in line for line in err.splitlines()) == 1
    assert json.loads((generation_dir(catalog) / MANIFEST).read_text())["schema_version"] == SCHEMA_VERSION
    assert [r["name"] for r in read_tables(catalog)["bags"].to_pylist()] == ["a"]  # its bags read again


def test_a_newer_catalog_is_refused_not_rebuilt(tmp_path, capsys):
    write_event_bag(tmp_path / "bags" / "a")
    index_paths([tmp_path / "bags"], tmp_path / "catalog")
    manifest = generation_dir(tmp_path / "catalog") / MANIFEST
    manifest.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    assert main(["index", str(tmp_path / "bags"), "--catalog", str(tmp_path / "catalog")]) == 2
    assert "newer" in capsys.readouterr().err
    assert json.loads(manifest.read_text())["schema_version"] == SCHEMA_VERSION + 1


def test_an_interrupted_index_keeps_the_bags_read_and_a_rerun_reads_the_rest(tmp_path):
    bags, catalog = tmp_path / "bags", tmp_path / "catalog"
    for name in ("a", "b", "c"):
        write_event_bag(bags / name)

    def interrupted_map(work, paths):  # a runner's map (the --workers/--ray seam), stopped by Ctrl-C
        yield work(paths[0])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_paths([bags], catalog, map_fn=interrupted_map)
    assert [r["name"] for r in read_tables(catalog)["bags"].to_pylist()] == ["a"]
    rerun = index_paths([bags], catalog)
    assert (rerun.indexed, rerun.unchanged) == (2, 1)
    assert sorted(r["name"] for r in read_tables(catalog)["bags"].to_pylist()) == ["a", "b", "c"]
