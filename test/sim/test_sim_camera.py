"""Camera truth: visible 2D boxes agree with the rendered image; a calibration fault moves the image."""

from __future__ import annotations

import numpy as np
import pytest

from mmfusion_annotate.sim import Drive, SimConfig
from mmfusion_annotate.sim.camera import CLASS_COLORS
from mmfusion_annotate.sim.world import CLASS_NAMES


def _class_mask(image: np.ndarray, cls: str) -> np.ndarray:
    """Pixels whose chromaticity is the class colour's (any shading)."""
    color = CLASS_COLORS[CLASS_NAMES.index(cls)]
    rgb = image.astype(np.float64)
    scale = rgb.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        chroma = rgb / scale
    return (np.abs(chroma - color / color.max()).max(axis=-1) < 0.08) & (scale[..., 0] > 60)


def _frames(rig, scenario, at_s, count, camera="cam_front", faults=None, scale=0.5):
    config = SimConfig(sensors=(camera,), render={"scale": scale})
    drive = Drive(rig, scenario, config=config, faults=faults, image_format="raw")
    ticks = [t for t in drive.ticks if t.true_ns >= at_s * 1e9][:count]
    return drive, [(t, drive.sample(t)) for t in ticks]


@pytest.mark.parametrize(("scenario", "at_s"), [("cut_in", 8.0), ("pedestrian_crossing", 9.0)])
def test_visible_boxes_agree_with_rendered_colours(rig, scenario, at_s):
    drive, frames = _frames(rig, scenario, at_s, 2)
    for tick, sample in frames:
        image = sample.payload["image"]
        assert image.shape == (900, 1600, 3) and image.dtype == np.uint8
        boxes = drive.truth.frames[("cam_front", tick.stamp)].boxes_2d
        assert boxes, "the scenario's actor must be in view"
        # upsampling blends colours at box edges: a blended pixel may mimic another class next to any box
        near_any = np.zeros(image.shape[:2], dtype=bool)
        for b in boxes:
            x0, y0, x1, y1 = (int(round(v)) for v in b.box)
            near_any[max(y0 - 3, 0) : y1 + 3, max(x0 - 3, 0) : x1 + 3] = True
        for cls in {b.cls for b in boxes}:
            mask = _class_mask(image, cls)
            covered = np.zeros(mask.shape, dtype=bool)
            for b in (b for b in boxes if b.cls == cls):
                x0, y0, x1, y1 = (int(round(v)) for v in b.box)
                covered[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = True
                inner = mask[y0:y1, x0:x1]
                if b.visible_pixels > 400 and b.occlusion < 0.2:
                    assert inner.mean() > 0.5, f"{cls} {b.object_id} fills only {inner.mean():.0%} of its box"
                    # the box is tight: the class colour reaches each of its edges
                    assert inner[:, :3].any() and inner[:, -3:].any() and inner[:3].any() and inner[-3:].any()
            # no class-coloured pixel outside the visible boxes of that class (away from other boxes' edges)
            assert not (mask & ~covered & ~near_any).any()
            assert (mask & covered).sum() > 0.95 * mask.sum()
        for b in boxes:
            assert 0.0 <= b.occlusion <= 1.0 and 0.0 <= b.truncation <= 1.0


def test_actor_is_in_front_camera_box_near_its_projection(rig):
    drive, [(tick, _)] = _frames(rig, "cut_in", 8.0, 1)
    truth = {o.id: o for o in drive.truth.objects(tick.true_ns)}
    box = next(b for b in drive.truth.frames[("cam_front", tick.stamp)].boxes_2d if b.object_id == 1)
    cam = drive.rig.sensor("cam_front")
    center_cam = np.linalg.inv(drive.truth.mounts["cam_front"]) @ np.append(truth[1].center_base, 1.0)
    uv, _, valid = cam.camera.project(center_cam[None, :3])
    assert valid[0]
    x0, y0, x1, y1 = box.box
    assert x0 <= uv[0, 0] <= x1 and y0 <= uv[0, 1] <= y1


def test_calibration_yaw_error_shifts_the_image(rig):
    """A 0.5 deg yaw error (camera turned left) moves what it sees right by ~ fx * tan(0.5 deg) ~ 11 px."""
    fault = [{"type": "calibration_error", "sensor": "cam_front", "yaw_deg": 0.5}]
    boxes = []
    for faults in (None, fault):
        drive, [(tick, _)] = _frames(rig, "cut_in", 8.0, 1, faults=faults)
        boxes.append(
            (
                drive,
                next(b for b in drive.truth.frames[("cam_front", tick.stamp)].boxes_2d if b.object_id == 1),
            )
        )
    (drive_ok, box_ok), (drive_bad, box_bad) = boxes
    expected = 1266.4 * np.tan(np.radians(0.5))
    shift = (box_bad.box[0] + box_bad.box[2]) / 2 - (box_ok.box[0] + box_ok.box[2]) / 2
    assert shift == pytest.approx(expected, abs=2.5)
    assert drive_bad.rig.sensor("cam_front") is drive_ok.rig.sensor("cam_front")  # the rig file is untouched
    assert drive_bad.truth.faults[0].type == "calibration_error"
