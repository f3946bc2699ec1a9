"""``mmfusion replay BAG... -o OUT_DIR --workers N / --ray``: one annotated bag per input, equal message for
message to the one-process replay, a bad bag reported while the rest finish, and a re-run that redoes only
what is missing (never touching a finished output)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.bagtools.replay_batch import PARTIAL_DIR, SOURCE_KEY, plan_replays, run_replays
from mmfusion_annotate.catalog.store import read_tables
from mmfusion_annotate.cli import main
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.recording.canonical import canonical_cdr
from mmfusion_annotate.recording.writer import PARTIAL_KEY
from mmfusion_annotate.rig import load_rig


def messages(bag: Path) -> list[tuple[str, int, str]]:
    """Every message of a bag as (topic, log time, digest of its CDR bytes with the padding zeroed: rclpy
    leaves it uninitialised, see recording/canonical.py), in log-time order."""
    return [
        (
            m.topic,
            m.log_time_ns,
            hashlib.sha1(canonical_cdr(m.msgtype, deserialize(m.msgtype, m.data))).hexdigest(),
        )
        for m in BagReader(bag)
    ]


@pytest.fixture(scope="module")
def alone(drives) -> dict[str, list]:
    """Each drive's messages, replayed alone in this process (what the batch must equal)."""
    tmp, bags, _ = drives
    for bag in bags:
        replay_bag(bag, tmp / "alone" / bag.name, load_rig(bag / "rig.yaml"))
    return {bag.name: messages(tmp / "alone" / bag.name) for bag in bags}


@pytest.mark.slow
def test_workers_equal_one_process_report_a_bad_bag_and_resume(drives, alone, capsys):
    tmp, bags, broken = drives
    out = tmp / "annotated"
    args = ["replay", *map(str, bags), str(broken), "-o", str(out), "--workers", "2"]
    assert main(args) == 2  # a bag failed
    report = capsys.readouterr().out
    assert "replayed 2 bags" in report and "failed 1" in report
    assert f"failed: {broken}: " in report and "rosbag2_bagfile_information" in report
    for bag in bags:
        assert messages(out / bag.name) == alone[bag.name], bag.name
        assert (out / bag.name / "rig.yaml").read_bytes() == (bag / "rig.yaml").read_bytes()

    # an interrupted run: one output missing, its unfinished .partial folder left behind
    finished = out / bags[0].name
    before = (finished.stat().st_ino, sorted(p.stat().st_mtime_ns for p in finished.iterdir()))
    shutil.move(out / bags[1].name, out / PARTIAL_DIR / bags[1].name)
    (out / PARTIAL_DIR / bags[1].name / "metadata.yaml").write_text("half written")
    assert main(["replay", *map(str, bags), "-o", str(out), "--workers", "2"]) == 0
    report = capsys.readouterr().out
    assert "replayed 1 bags" in report and "skipped 1 (finished earlier)" in report
    assert (finished.stat().st_ino, sorted(p.stat().st_mtime_ns for p in finished.iterdir())) == before
    assert messages(out / bags[1].name) == alone[bags[1].name]
    assert not (out / PARTIAL_DIR / bags[1].name).exists()

    assert main(["replay", *map(str, bags), "-o", str(out)]) == 0  # nothing left to do
    assert "replayed 0 bags" in capsys.readouterr().out


def fake_bag(path: Path, custom_data: dict[str, str] | None = None) -> Path:
    """A bag folder as far as planning looks: a ``metadata.yaml`` (its files do not matter there)."""
    path.mkdir(parents=True)
    info = {"relative_file_paths": [], "custom_data": custom_data}
    (path / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": info}))
    return path


def test_only_finished_replays_are_skipped_and_nothing_is_overwritten(tmp_path):
    bags = [fake_bag(tmp_path / "in" / name) for name in ("a", "b", "c", "d")]
    bags.append(tmp_path / "in" / "e.mcap")  # a lone file: its output is out/e
    bags[-1].write_bytes(b"")
    out = tmp_path / "out"
    fake_bag(out / "a", {SOURCE_KEY: "/in/a"})  # finished earlier
    fake_bag(out / "b", {SOURCE_KEY: "/in/b", PARTIAL_KEY: "stopped early (KeyboardInterrupt)"})
    fake_bag(out / "c")  # a recording, not a replay
    (out / "d").mkdir()
    (out / "d" / "notes.txt").write_text("mine")
    plan = plan_replays(bags, out)
    assert plan.skipped == bags[:1] and [(job.bag, job.output) for job in plan.jobs] == [(bags[4], out / "e")]
    assert [bag for bag, _ in plan.refused] == bags[1:4]
    reasons = [why for _, why in plan.refused]
    assert "a partial bag" in reasons[0] and "not one written by 'mmfusion replay'" in reasons[1]
    assert "exists and is not a bag" in reasons[2] and all("not overwritten" in why for why in reasons)
    assert (out / "d" / "notes.txt").read_text() == "mine"


def test_two_bags_of_one_name_and_bad_worker_counts_are_one_line_errors(tmp_path, capsys):
    bag, twin = fake_bag(tmp_path / "x" / "drive"), fake_bag(tmp_path / "y" / "drive")
    assert main(["replay", str(bag), str(twin), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would both be replayed into" in err[0]
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(bag), "-o", str(tmp_path / "out"), "--workers", "0"])
    assert exit_info.value.code == 2 and "between 1 and 1024" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_cluster_replays_equal_one_process(drives, alone, ray_cluster, tmp_path):
    _, bags, _ = drives
    plan = plan_replays(bags, tmp_path)
    outcomes = run_replays(plan, tmp_path, ray_address=ray_cluster.address)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    for bag in bags:
        assert messages(tmp_path / bag.name) == alone[bag.name], bag.name


@pytest.mark.slow
def test_index_with_workers_and_ray_equals_one_process(drives, alone, ray_cluster, tmp_path, capsys):
    tmp, _, broken = drives
    paths = [str(tmp / "alone"), str(broken)]  # two replayed bags (events, pre-labels) and a broken one
    catalogs = {}
    for name, options in [
        ("one", []),
        ("workers", ["--workers", "2"]),
        ("ray", ["--ray", ray_cluster.address]),
    ]:
        assert main(["index", *paths, "--catalog", str(tmp_path / name), *options]) == 1  # the broken bag
        assert "3 bags found" in capsys.readouterr().out
        tables = read_tables(tmp_path / name)
        catalogs[name] = {
            table: sorted(
                map(repr, tables[table].drop_columns(["indexed_ns"] if table == "bags" else []).to_pylist())
            )
            for table in tables
        }
    assert len(catalogs["one"]["bags"]) == 3 and catalogs["one"]["prelabel_counts"]
    assert catalogs["workers"] == catalogs["one"] and catalogs["ray"] == catalogs["one"]
