"""Bags of a run under ``-r __ns:=/car1`` hold ``/car1/prelabels/scene`` and the like: ``mmfusion review``,
``export``/``sheet`` (``read_bag_labels``) and ``clip --review`` read them as they read root names, and a
bag holding two rigs' outputs is a one-line error (exit 2) naming both namespaces."""

from __future__ import annotations

import pytest
from labelled_bag import write_labelled_bag

from mmfusion_annotate.bagtools.review_queue import read_review_queue
from mmfusion_annotate.cli import main
from mmfusion_annotate.errors import BagError
from mmfusion_annotate.export.bag_labels import read_bag_labels


@pytest.fixture(scope="module")
def namespaced(tmp_path_factory):
    return write_labelled_bag(tmp_path_factory.mktemp("ns") / "car1", namespaces=("/car1",))


def _frames(labels) -> list:
    return [(f.stamp, [(o.box, o.meta) for o in f.objects], f.review, f.cameras) for f in labels.frames]


def test_a_namespaced_bag_reads_as_the_same_bag_with_root_names(labelled_bag, namespaced):
    root, car1 = read_review_queue(labelled_bag.path), read_review_queue(namespaced.path)
    assert car1.missing == "" and len(car1.entries) == 1
    assert [e.to_dict() for e in car1.entries] == [e.to_dict() for e in root.entries]
    root_labels, car1_labels = read_bag_labels(labelled_bag.path, labelled_bag.rig), read_bag_labels(
        namespaced.path, namespaced.rig
    )
    assert len(car1_labels.frames) == 3 and all(f.review and f.cameras for f in car1_labels.frames)
    assert _frames(car1_labels) == _frames(root_labels)


def test_clip_around_a_review_entry_of_a_namespaced_bag(namespaced, tmp_path):
    (entry,) = read_review_queue(namespaced.path).entries
    assert main(["clip", str(namespaced.path), "-o", str(tmp_path / "clips"), "--before", "0", "--after", "0",
                 "--review-kind", "box2d_disagrees_with_cuboid"]) == 0  # fmt: skip
    clipped = read_review_queue(tmp_path / "clips" / f"review_{entry.id}").entries
    assert [(e.id, e.frames) for e in clipped] == [(entry.id, 3)]


def test_two_namespaces_in_one_bag_are_one_line_naming_both(tmp_path, capsys):
    two = write_labelled_bag(tmp_path / "two", namespaces=("/car2", "/car1"))
    bag = two.path
    with pytest.raises(BagError, match=r"/prelabels/review is in several namespaces \(/car1, /car2\)"):
        read_review_queue(bag)
    with pytest.raises(BagError, match=r"is in several namespaces \(/car1, /car2\)"):
        read_bag_labels(bag, two.rig)
    assert main(["review", str(bag), "-o", str(tmp_path / "review")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"mmfusion review: error: {bag}: /prelabels/review is in several namespaces (/car1, /car2); "
        "record one rig per bag"
    ]
