from pathlib import Path

import cv2
import numpy as np

import mmfusion_annotate.prelabel.evidence as evidence
from mmfusion_annotate.prelabel.evidence import ImageEvidence


def _kitti_boxes(kitti: Path) -> list[tuple[np.ndarray, list[tuple[float, float, float, float]]]]:
    """Each KITTI image with its labelled boxes plus boxes of all sizes anywhere (road, sky, borders)."""
    rng = np.random.default_rng(0)
    out = []
    for label in sorted((kitti / "label_2").glob("*.txt")):
        rgb = cv2.cvtColor(cv2.imread(str(kitti / "image_2" / f"{label.stem}.png")), cv2.COLOR_BGR2RGB)
        boxes = [
            tuple(float(v) for v in line.split()[4:8])
            for line in label.read_text().splitlines()
            if line.split()[0] != "DontCare"
        ]
        h, w = rgb.shape[:2]
        for _ in range(15):
            bw, bh = rng.uniform(10, w / 2), rng.uniform(10, h * 0.8)
            x, y = rng.uniform(-bw / 4, w - bw * 0.75), rng.uniform(-bh / 4, h - bh * 0.75)
            boxes.append((x, y, x + bw, y + bh))
        out.append((rgb, boxes))
    return out


def test_region_score_matches_the_whole_image_measurement(monkeypatch, shared_path):
    """Converting only each box's region (and sampling its Lab) stays within the documented tolerance of
    measuring on the whole image: a context that spans the image and one Lab sample per pixel."""
    frames = _kitti_boxes(shared_path("data", "kitti", "training", "image_2").parent)
    region = [ImageEvidence(rgb).score(b) for rgb, boxes in frames for b in boxes]
    monkeypatch.setattr(evidence, "_CONTEXT_PX", 10**6)
    monkeypatch.setattr(evidence, "LAB_SAMPLES", 10**12)
    whole = [ImageEvidence(rgb).score(b) for rgb, boxes in frames for b in boxes]
    assert len(whole) >= 45
    diff = np.abs(np.array(region) - np.array(whole))
    assert diff.max() <= 0.05 and diff.mean() <= 0.01
    assert np.ptp(whole) > 0.2  # the labelled boxes span a real range of scores


def test_object_scores_high_and_empty_road_low_wherever_the_box_lies():
    rng = np.random.default_rng(3)
    rgb = np.full((900, 1600, 3), (90, 90, 95), np.uint8)  # flat road grey
    rgb[400:600, 1450:1600] = (200, 30, 30)  # a red car cut by the right image border
    rgb[400:600, 1450:1600:6] = 0  # with vertical structure
    rgb[100:160, 300:340] = rng.integers(0, 255, (60, 40, 3), dtype=np.uint8)  # small textured object
    ev = ImageEvidence(rgb)
    assert ev.score((1450, 400, 1700, 600)) > 0.8  # the box runs past the border: clipped, ring on 3 sides
    assert ev.score((300, 100, 340, 160)) > 0.5
    assert ev.score((700, 500, 1100, 800)) < 0.05  # large empty box: sampled Lab, no edges
    assert ev.score((0, 0, 1600, 900)) == 0.0  # no ring left


def test_a_box_spanning_the_image_height_is_sampled_not_converted_pixel_by_pixel(monkeypatch):
    """Its ring is only left and right: the Lab grid step follows those sides (a thin ring had made it
    1 px, converting ~0.8 Mpx for one box), and the score stays that of the full conversion."""
    rgb = np.random.default_rng(1).integers(0, 255, (900, 1600, 3), dtype=np.uint8)
    rgb[:, 400:1000] //= 3  # a darker object from the top of the image to the bottom
    box = (400.0, -50.0, 1000.0, 950.0)
    converted = []
    real = cv2.cvtColor

    def counting(src, code):
        if code == cv2.COLOR_RGB2LAB:
            converted.append(src.shape[0] * src.shape[1])
        return real(src, code)

    monkeypatch.setattr(evidence.cv2, "cvtColor", counting)
    sampled = ImageEvidence(rgb).score(box)
    assert converted and max(converted) <= 2 * evidence.LAB_SAMPLES
    monkeypatch.setattr(evidence, "LAB_SAMPLES", 10**12)
    assert abs(ImageEvidence(rgb).score(box) - sampled) <= 0.01


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A textured road-grey image with a car-coloured block covering pixel centres 300..419 x 200..269,
    anti-aliased at its sides as a render or a lens blurs them."""
    rgb = np.clip(rng.normal(110, 6, size=(480, 720, 3)), 0, 255).astype(np.uint8)
    block = np.zeros((480, 720), np.float32)
    block[200:270, 300:420] = 1.0
    block = cv2.GaussianBlur(block, (5, 5), 1.0)[..., None]
    return (rgb * (1 - block) + np.array([40, 60, 150]) * block).astype(np.uint8)


def test_locate_finds_how_far_a_box_is_off_the_object_in_the_image():
    image = ImageEvidence(_scene(np.random.default_rng(3)))
    truth = (299.5, 199.5, 419.5, 269.5)  # the block's extent (pixel centres at integers)
    for dx, dy in ((0.0, 0.0), (7.0, -4.0), (-11.3, 2.6), (15.0, 9.0)):
        shifted = (truth[0] + dx, truth[1] + dy, truth[2] + dx, truth[3] + dy)
        ox, oy = image.locate(shifted, 24)
        assert abs(ox + dx) < 0.5 and abs(oy + dy) < 0.5, (dx, dy, ox, oy)
    # a box a little too wide still finds the centre: each side looks for its own edge
    ox, oy = image.locate((truth[0] - 5, truth[1], truth[2] + 5, truth[3]), 24)
    assert abs(ox) < 0.5 and abs(oy) < 0.5


def test_locate_declines_where_it_cannot_judge():
    image = ImageEvidence(_scene(np.random.default_rng(4)))
    assert image.locate((5.0, 199.5, 125.0, 269.5), 24) is None  # the search would leave the image
    assert image.locate((500.0, 300.0, 600.0, 380.0), 24) is None  # no object there: no edge stands out
    assert image.locate((299.5, 199.5, 303.5, 203.5), 24) is None  # too small to search
