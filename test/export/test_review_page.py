"""``mmfusion review``: the queue's grouping and order, its pictures, the page in a real headless browser
(Debian's chromium, installed by ``scripts/setup.sh --test``), bad input, and clips around review entries."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from labelled_bag import write_labelled_bag

from mmfusion_annotate import drawing
from mmfusion_annotate.bagtools.review_queue import GAP_NS, ReviewQueue, group_items
from mmfusion_annotate.cli import main
from mmfusion_annotate.export.review_page import Pictures, ReviewReport, build_review, review_html
from mmfusion_annotate.outputs.labels import ReviewItemRecord, item_priority

REASON = "box2d_disagrees_with_cuboid"


def _record(reason: str, ids: tuple[int, ...], stamp: int, priority: float) -> ReviewItemRecord:
    return ReviewItemRecord(
        reason, stamp, priority, ("lidar", "camera"), ids, "cam_front", None, None, "", {}
    )


def test_items_of_one_disagreement_merge_into_one_entry_and_entries_come_by_priority():
    records = [
        _record(REASON, (9,), 0, 0.5),
        _record(REASON, (9,), 100_000_000, 0.6),  # the same disagreement a frame later
        _record(REASON, (9,), 100_000_000 + 2 * GAP_NS, 0.2),  # after a gap: a new entry
        _record("class_flip", (4,), 50_000_000, 0.8),
        _record(REASON, (3,), 0, 0.6),  # another track: its own entry; ties go to the earlier
    ]
    entries = group_items(records)
    assert [(e.reason, e.object_ids, e.priority, e.frames) for e in entries] == [
        ("class_flip", (4,), 0.8, 1),
        (REASON, (9,), 0.6, 2),
        (REASON, (3,), 0.6, 1),
        (REASON, (9,), 0.2, 1),
    ]
    assert entries[1].first_ns == 0 and entries[1].last_ns == 100_000_000
    assert entries[1].top.stamp == 100_000_000  # pictured at its highest-priority frame
    assert len({e.id for e in entries}) == 4


def test_priority_from_the_items_fields_when_the_bag_has_none():
    assert item_priority({"priority": "0.37", "severity": "0.9"}) == 0.37
    both = {"severity": "0.8", "confidence": "0.5", "modalities": "lidar,camera"}
    assert item_priority(both) == pytest.approx(0.8 * 0.5 * 2 / 4)
    assert item_priority({**both, "modalities": "lidar,camera,radar"}) > item_priority(both)
    assert item_priority({"severity": "critical", "modalities": "lidar"}) == pytest.approx(0.75 / 4)


def test_review_of_a_replayed_bag_pictures_each_entry(labelled_bag, tmp_path):
    report = build_review(labelled_bag.path, labelled_bag.rig)
    (entry,) = report.queue.entries  # three frames' items about truck 9 on cam_front: one entry
    assert (entry.reason, entry.object_ids, entry.camera, entry.frames) == (REASON, (9,), "cam_front", 3)
    pictures = report.pictures[entry.id]
    assert pictures.notes == []
    crop = cv2.imdecode(np.frombuffer(pictures.crop, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    top = cv2.imdecode(np.frombuffer(pictures.top, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    assert (crop == drawing.HIGHLIGHT).all(axis=-1).sum() > 100  # the 2D box
    assert (crop == drawing.CUBOID).all(axis=-1).sum() > 50  # the projected cuboid
    assert (top == drawing.HIGHLIGHT).all(axis=-1).sum() > 50  # the truck, highlighted, centred
    centre = top[
        top.shape[0] // 2 - 40 : top.shape[0] // 2 + 40, top.shape[1] // 2 - 40 : top.shape[1] // 2 + 40
    ]
    assert (centre == drawing.HIGHLIGHT).all(axis=-1).any()


def _chromium_dom(page: Path) -> str:
    return _chromium_dom_uri(page.resolve().as_uri())


def _chromium_dom_uri(uri: str) -> str:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup.sh --test")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
         "--dump-dom", uri],
        capture_output=True, text=True, timeout=90, check=True,
    )  # fmt: skip
    return result.stdout


def _check(dom: str) -> dict[str, str]:
    match = re.search(r'<span id="check"([^>]*)>', dom)
    assert match, "the page's check did not run"
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', match.group(1)))


def test_the_page_renders_in_a_headless_browser_with_every_picture_decoded(labelled_bag, tmp_path):
    assert main(["review", str(labelled_bag.path), "-o", str(tmp_path / "review")]) == 0
    page = tmp_path / "review" / "index.html"
    assert "http" not in page.read_text().replace("http-equiv", "")  # self-contained: nothing fetched
    dom = _chromium_dom(page)
    assert _check(dom) == {"images": "2", "decoded": "2", "ordered": "true", "shown": "1"}
    written = json.loads((tmp_path / "review" / "review.json").read_text())
    assert [e["id"] for e in written["entries"]] == re.findall(
        r'<article class="entry" id="([0-9a-f]+)"', dom
    )


def test_the_browser_check_sees_order_and_broken_pictures(tmp_path):
    """The page's own check can fail: a picture that does not decode, entries out of order."""
    entries = group_items([_record(REASON, (i,), i * 10 * GAP_NS, p) for i, p in enumerate((0.9, 0.5, 0.7))])
    good = drawing.png_bytes(np.full((20, 30, 3), 200, np.uint8))
    pictures = {e.id: Pictures(good, good) for e in entries}
    pictures[entries[1].id] = Pictures(good, b"not a png")
    report = ReviewReport(Path("bag"), ReviewQueue(entries, 0), pictures)
    (tmp_path / "sorted.html").write_text(review_html(report))
    dom = _chromium_dom(tmp_path / "sorted.html")
    assert _check(dom) == {"images": "6", "decoded": "5", "ordered": "true", "shown": "3"}
    ranks = [html.unescape(p) for p in re.findall(r'data-priority="([0-9.]+)"', dom)]
    assert [float(p) for p in ranks] == [0.9, 0.7, 0.5]
    report.queue.entries.reverse()
    (tmp_path / "reversed.html").write_text(review_html(report))
    assert _check(_chromium_dom(tmp_path / "reversed.html"))["ordered"] == "false"


def test_only_the_first_entries_are_pictured_and_kinds_can_be_chosen(tmp_path):
    bag = write_labelled_bag(tmp_path / "raw", class_flips=True)
    report = build_review(bag.path, bag.rig, limit=1)
    first, second = report.queue.entries
    assert {first.reason, second.reason} == {REASON, "class_flip"}
    assert report.pictures[first.id].crop is not None and report.pictures[first.id].notes == []
    assert report.pictures[second.id].crop is None and report.pictures[second.id].top is None
    assert report.pictures[second.id].notes == ["not pictured: only the first 1 entries are"]
    flips = build_review(bag.path, bag.rig, kinds=["class_flip"]).queue
    assert [(e.reason, e.object_ids, e.frames) for e in flips.entries] == [("class_flip", (7,), 3)]
    none = build_review(bag.path, bag.rig, kinds=["id_switch"]).queue
    assert none.entries == []
    has = f"(the bag has: {REASON}, class_flip)"
    assert none.missing == f"{bag.path}: no review entry of kind id_switch {has}"


def test_the_page_shows_the_kinds_named_in_its_address(tmp_path):
    """``index.html#kinds=class_flip`` opens with the other kinds hidden (their boxes unticked)."""
    bag = write_labelled_bag(tmp_path / "raw", class_flips=True)
    assert main(["review", str(bag.path), "-o", str(tmp_path / "review"), "--limit", "0"]) == 0
    page = tmp_path / "review" / "index.html"
    assert _check(_chromium_dom(page))["shown"] == "2"
    dom = _chromium_dom_uri(page.resolve().as_uri() + "#kinds=class_flip")
    assert _check(dom)["shown"] == "1"
    hidden = re.findall(r'<article class="entry"[^>]*data-kind="([a-z0-9_]+)"[^>]*hidden', dom)
    assert hidden == [REASON]


def test_bag_without_prelabels_gives_an_empty_queue_with_the_reason(tmp_path, capsys):
    bag = write_labelled_bag(tmp_path / "raw", with_prelabels=False).path
    assert main(["review", str(bag), "-o", str(tmp_path / "review"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["entries"] == []
    assert err.strip().splitlines() == [
        f"mmfusion review: {bag}: no review items (/prelabels/review): the bag has no pre-labels; "
        "run 'mmfusion replay'"
    ]
    assert "no review items" in (tmp_path / "review" / "index.html").read_text()


def test_not_a_bag_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["review", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "review")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mmfusion review: error:")
    assert "Traceback" not in err


def test_a_negative_limit_is_one_line_and_exit_2(labelled_bag, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["review", str(labelled_bag.path), "--limit", "-1"])
    assert exited.value.code == 2
    assert "argument --limit: must be >= 0 (0: all), got -1" in capsys.readouterr().err


def test_clip_around_review_entries(labelled_bag, tmp_path, capsys):
    entry = build_review(labelled_bag.path, labelled_bag.rig).queue.entries[0]
    args = ["clip", str(labelled_bag.path), "--review-kind", REASON, "--before", "0", "--after", "0"]
    assert main([*args, "-o", str(tmp_path / "clips")]) == 0
    assert (tmp_path / "clips" / f"review_{entry.id}" / "metadata.yaml").is_file()
    clipped = build_review(tmp_path / "clips" / f"review_{entry.id}", labelled_bag.rig).queue.entries
    assert [(e.id, e.frames) for e in clipped] == [(entry.id, 3)]  # the whole entry, nothing else
    by_id = ["clip", str(labelled_bag.path), "--review", entry.id, "--before", "0.05", "--after", "0"]
    assert main([*by_id, "-o", str(tmp_path / "one")]) == 0
    assert [
        e.id for e in build_review(tmp_path / "one" / f"review_{entry.id}", labelled_bag.rig).queue.entries
    ] == [entry.id]
    capsys.readouterr()
    assert main([*args[:2], "--review-kind", "no_such_kind", "-o", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    what = "no review item of kind 'no_such_kind' (see 'mmfusion review')"
    assert err.strip() == f"mmfusion clip: error: {labelled_bag.path}: {what}"
