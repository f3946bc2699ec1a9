"""``drawing``: labels that never overlap, the bird's-eye view's frame, the legend."""

from __future__ import annotations

import numpy as np

from mmfusion_annotate import drawing


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_of_crowded_boxes_do_not_overlap_and_stay_in_the_image():
    rng = np.random.default_rng(3)
    corners = rng.uniform(180, 260, (14, 2))  # fourteen boxes piled around one spot, as a far cluster
    anchors = [(int(x), int(y), int(x) + 20, int(y) + 30) for x, y in corners]
    plates = drawing.place_labels(anchors, [(70, 16)] * len(anchors), (480, 480))
    for i, a in enumerate(plates):
        assert 0 <= a[0] and a[2] <= 480 and 0 <= a[1] and a[3] <= 480
        assert not any(_overlap(a, b) for b in plates[i + 1 :]), (i, a)
    first_free = plates[0]
    assert first_free[3] == anchors[0][1]  # an uncrowded label sits right above its box


def test_drawn_labels_are_plates_apart_in_the_image():
    image = np.zeros((200, 300, 3), np.uint8)
    tags = [drawing.Tag((100, 100, 140, 150), f"car #{i}", (30, 120, 180)) for i in range(3)]  # one place
    drawing.draw_tags(image, tags)
    plate = (image == drawing.PLATE).all(axis=-1)
    _, text_h, base = drawing.text_size("car #0")
    assert plate.any(axis=1).sum() == 3 * (text_h + base + 4)  # three plates' rows: none on another


def test_top_view_is_x_forward_up_and_y_left_around_its_centre():
    box = drawing.TopBox((10.0, 5.0, 0.0), (4.0, 2.0, 1.5), 0.0, (0, 255, 0), highlight=True)
    view = drawing.top_view(None, [box], size_px=200, range_m=20.0, ego=False)
    ys, xs = np.nonzero((view == drawing.HIGHLIGHT).all(axis=-1))
    assert ys.mean() < 100 - 10 * 200 / 40 + 5 and xs.mean() < 100 - 5 * 200 / 40 + 5  # ahead and left
    centred = drawing.top_view(None, [box], size_px=200, range_m=20.0, center_xy=(10.0, 5.0), ego=False)
    ys, xs = np.nonzero((centred == drawing.HIGHLIGHT).all(axis=-1))
    assert abs(ys.mean() - 100) < 3 and abs(xs.mean() - 100) < 3


def test_legend_wraps_and_shows_every_entry():
    entries = drawing.class_legend() * 3
    strip = drawing.legend(entries, 300)
    assert strip.shape[1] == 300 and strip.shape[0] > 2 * 26
    for _, color in drawing.class_legend():
        assert (strip == color).all(axis=-1).sum() >= 3 * 16 * 16


def test_evaluation_images_show_truth_left_and_pre_labels_right():
    from mmfusion_annotate.bagtools.evaluate_bag import BEV_PX, bev_side_by_side
    from mmfusion_annotate.outputs.labels import class_color_rgb8
    from mmfusion_annotate.prelabel.metrics import GtObject
    from mmfusion_annotate.prelabel.model import Cuboid, ObjectClass, Provenance

    truth = [GtObject(1, ObjectClass.PEDESTRIAN, (8.0, 2.0, 0.9), (0.8, 0.8, 1.8), 0.0)]
    cuboid = Cuboid(
        5, 0, (12.0, -3.0, 0.8), (4.5, 1.9, 1.6), 0.2, ObjectClass.CAR, 40, Provenance("t", "v", 0.9)
    )
    image = bev_side_by_side(truth, [cuboid])
    assert image.shape == (BEV_PX, 2 * BEV_PX, 3)
    person, car = class_color_rgb8(ObjectClass.PEDESTRIAN), class_color_rgb8(ObjectClass.CAR)
    left, right = image[:, :BEV_PX], image[:, BEV_PX:]
    assert (left == person).all(axis=-1).sum() > 10 and (left == car).all(axis=-1).sum() == 0
    assert (right == car).all(axis=-1).sum() > 10 and (right == person).all(axis=-1).sum() == 0
