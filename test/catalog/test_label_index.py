"""The catalog's review items and pre-label counts: from the files' label records through the summary's
metadata index (no chunk decompressed), and from the pre-label messages for a bag without records, with
the same rows either way and ``labels_source`` saying which."""

from __future__ import annotations

import mcap.reader
from label_bags import write_labelled_bag
from rigs import write_small_rig

from mmfusion_annotate.bagtools.replay import replay_bag
from mmfusion_annotate.catalog import bag_index
from mmfusion_annotate.catalog.bag_index import index_bag
from mmfusion_annotate.recording import salvage
from mmfusion_annotate.recording.label_records import LabelTally
from mmfusion_annotate.rig import load_rig
from mmfusion_annotate.sim import Drive, load_scenario
from mmfusion_annotate.sim.bag import write_bag


def _rows(index) -> tuple[list, list]:
    return index.review_items, index.prelabel_counts


def count_chunk_reads(monkeypatch) -> list:
    """Counts every chunk decompressed, by the bag readers (``recording.salvage``) or mcap's own (the
    returned list grows by one each)."""
    calls = []
    real = salvage.breakup_chunk

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(salvage, "breakup_chunk", counted)
    monkeypatch.setattr(mcap.reader, "breakup_chunk", counted)
    return calls


def test_records_are_read_without_decompressing_a_chunk_and_match_the_messages(tmp_path, monkeypatch):
    with_records = write_labelled_bag(tmp_path / "with")
    with monkeypatch.context() as patch:  # a bag written before the records existed
        patch.setattr(LabelTally, "records", lambda self: {})
        without = write_labelled_bag(tmp_path / "without")
    with monkeypatch.context() as patch:
        calls = count_chunk_reads(patch)
        old = index_bag(without)
    assert (old.error, old.bag["labels_source"], len(calls)) == (None, "messages", 3)  # one chunk a file
    with monkeypatch.context() as patch:
        calls = count_chunk_reads(patch)
        new = index_bag(with_records)
    assert (new.error, new.bag["labels_source"], calls) == (None, "record", [])
    assert _rows(new) == _rows(old)
    assert new.bag["review_item_count"] == len(new.review_items) == 36
    assert {(r["class"], r["count"], r["tracks"]) for r in new.prelabel_counts} == {("car", 60, 2),
                                                                                      ("pedestrian", 10, 1)}
    item = new.review_items[0]
    assert (item["t_s"], item["severity"], item["evidence"]) == (0.0, 0.8, {"iou": 0.1, "iou_threshold": 0.3})


def test_a_window_the_records_window_does_not_divide_falls_back_to_the_messages(tmp_path):
    bag = write_labelled_bag(tmp_path / "bag")
    twenty, fifteen = index_bag(bag, window_s=20.0), index_bag(bag, window_s=15.0)
    assert (twenty.bag["labels_source"], fifteen.bag["labels_source"]) == ("record", "messages")
    for index, window in ((twenty, 20.0), (fifteen, 15.0)):
        assert sum(r["count"] for r in index.prelabel_counts) == 70
        assert all(r["window_start_ns"] % int(window * 1e9) == 0 for r in index.prelabel_counts)


def test_a_namespaced_bag_indexes_as_the_root_one_and_two_namespaces_are_an_error(tmp_path, monkeypatch):
    root, car1 = index_bag(write_labelled_bag(tmp_path / "root")), index_bag(
        write_labelled_bag(tmp_path / "car1", namespaces=("/car1",))
    )
    assert (car1.error, car1.bag["labels_source"]) == (None, "record")
    monkeypatch.setattr(bag_index, "_record_tally", lambda *a: None)  # the messages, read by their names
    from_messages = index_bag(tmp_path / "car1")
    assert from_messages.bag["labels_source"] == "messages"
    assert _rows(car1) == _rows(from_messages) == _rows(root) and len(car1.review_items) == 36
    two = index_bag(write_labelled_bag(tmp_path / "two", namespaces=("/car1", "/car2")))
    assert two.error is not None and "in several namespaces (/car1, /car2)" in two.error


def test_no_labels_and_a_bag_without_label_topics_say_none(tmp_path):
    bag = write_labelled_bag(tmp_path / "bag")
    assert index_bag(bag, labels=False).bag["labels_source"] == "none"
    from fleet_bags import write_event_bag  # noqa: PLC0415 - the catalog tests' own helper

    events_only = index_bag(write_event_bag(tmp_path / "events"))
    assert (events_only.bag["labels_source"], events_only.review_items) == ("none", [])


def test_a_replayed_bag_carries_records_equal_to_its_messages(tmp_path, monkeypatch):
    rig = load_rig(write_small_rig(tmp_path))
    scenario = load_scenario("cut_in").model_copy(update={"duration_s": 1.0})
    write_bag(Drive(rig, scenario, seed=3), tmp_path / "sim")
    replay_bag(tmp_path / "sim", tmp_path / "annotated", rig)
    with monkeypatch.context() as patch:
        calls = count_chunk_reads(patch)
        from_records = index_bag(tmp_path / "annotated")
    assert (from_records.bag["labels_source"], calls) == ("record", [])
    monkeypatch.setattr(bag_index, "_record_tally", lambda *a: None)  # as for a bag without records
    calls = count_chunk_reads(monkeypatch)
    from_messages = index_bag(tmp_path / "annotated")
    assert from_messages.bag["labels_source"] == "messages" and calls
    assert _rows(from_records) == _rows(from_messages)
    assert from_records.review_items and from_records.prelabel_counts
