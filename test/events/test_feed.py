"""Adapters from samples and pre-labels to observations."""

from collections.abc import Mapping

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.events import AlignmentFrame, Arrival, EgoKinematics
from mmfusion_annotate.events.feed import PENDING_IMAGES, SampleFeed, review_counts, track_frame
from mmfusion_annotate.prelabel import review
from mmfusion_annotate.prelabel.model import (
    Box2D,
    Cuboid,
    Modality,
    ObjectClass,
    PrelabelResult,
    Provenance,
    ReviewItem,
    Track,
)
from mmfusion_annotate.types import SensorSample

PROV = Provenance("test", "0", 1.0)


def test_prelabel_result_becomes_confirmed_tracks_with_sizes_and_radar():
    cuboid = Cuboid(4, 100, (20.0, 1.0, 0.8), (4.4, 1.8, 1.5), 0.0, ObjectClass.CAR, 50, PROV,
                    velocity=(10.0, 0.0), radial_velocity=9.5, radar_hits=3)
    # tracks live in the world frame; the rules read the cuboids (base_link)
    tracks = (Track(4, ObjectClass.CAR, (520.0, 31.0), (10.0, 0.0), 0.0, 5, 5, 0, True, PROV),
              Track(5, ObjectClass.PEDESTRIAN, (9.0, -4.0), (0.0, 1.0), 1.5, 1, 1, 0, False, PROV))
    lc = (Modality.LIDAR, Modality.CAMERA)
    item = ReviewItem(review.NO_CAMERA_EVIDENCE, lc, 0.5, (4,), 100, "cam_front")
    flip = ReviewItem(review.CLASS_FLIP, (Modality.LIDAR, Modality.TRACK), 0.8, (4,), 100)  # not a sensor's
    box = Box2D(4, "cam_front", 100, (0.0, 0.0, 50.0, 40.0), 0.0, 1.0, 0.1, ObjectClass.CAR, PROV)
    result = PrelabelResult(100, cuboids=(cuboid,), tracks=tracks, boxes2d=(box,), review_items=(item, flip))
    frame = track_frame(result)
    assert frame.stamp == 100 and [o.track_id for o in frame.objects] == [4]
    (obj,) = frame.objects
    assert obj.cls == "car" and obj.position == (20.0, 1.0) and obj.size == (4.4, 1.8)
    assert obj.velocity == (10.0, 0.0) and obj.radial_velocity == 9.5
    counts = review_counts(result)
    assert (counts.review_items, counts.objects, counts.cameras) == (1, 1, (("cam_front", 1, 1),))
    assert obj.confidence == PROV.confidence


CAM_P = 1_000_000_000 // 12  # cam_front at 12 Hz
SWEEP_P = 100_000_000  # lidar_top at 10 Hz
SWEEP = {"xyz": np.ones((4, 3), np.float32), "ring": np.arange(4), "t_ns": np.zeros(4, np.int64)}
IMAGE = {"image": np.zeros((900, 1600, 3), np.uint8)}


def _sweep(k: int) -> SensorSample:
    return SensorSample("lidar_top", k * SWEEP_P, dict(SWEEP, t_ns=np.full(4, k * SWEEP_P)))


def _frames(observations):
    return [(o.camera, o.stamp) for o in observations if isinstance(o, AlignmentFrame)]


def test_samples_become_ego_arrivals_and_alignment_frames(rig, rules):
    feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=2)
    assert feed.feed(SensorSample("odometry", 0, {"linear_velocity": np.array([5.0, 0.0, 0.0]),
                                                  "angular_velocity": np.array([0.0, 0.0, 0.1])})) == []
    (ego,) = feed.feed(SensorSample("imu", 10, {"accel": np.array([1.0, 0.0, 9.81]), "gyro": np.zeros(3)}))
    assert isinstance(ego, EgoKinematics) and ego.speed == 5.0
    assert feed.feed(SensorSample("lidar_top", 0, SWEEP)) == [Arrival("lidar_top", 0)]
    out = [feed.feed(SensorSample("cam_front", k * CAM_P, IMAGE)) for k in range(3)]
    # images 0 and 2 are picked (every 2nd); image 0 lies in the sweep received, image 2 in the next one,
    # still being captured: it waits for it
    assert [len(o) for o in out] == [2, 1, 1]
    frame = out[0][1]
    assert isinstance(frame, AlignmentFrame) and frame.ego_velocity == (5.0, 0.0) and frame.yaw_rate == 0.1
    assert np.allclose(frame.points_base[0], rig.sensor_to_base("lidar_top")[:3, :3] @ np.ones(3)
                       + rig.sensor_to_base("lidar_top")[:3, 3])
    next_sweep = dict(SWEEP, t_ns=np.full(4, SWEEP_P))
    out = feed.feed(SensorSample("lidar_top", SWEEP_P, next_sweep))
    assert _frames(out) == [("cam_front", 2 * CAM_P)]
    assert out[1].point_stamps[0] == SWEEP_P  # paired with the sweep covering 167 ms, not the first one
    assert feed.feed(SensorSample("cam_back", 40, IMAGE)) == [Arrival("cam_back", 40)]


def test_pairing_follows_stamps_not_arrival_order(rig, rules):
    """A sweep published at its end (after its images) or at its start gives the same pairs."""
    sweeps = [_sweep(k) for k in range(6)]
    images = [SensorSample("cam_front", 3_000_000 + k * CAM_P, IMAGE) for k in range(6)]
    by_start = sorted(sweeps + images, key=lambda s: s.stamp)
    by_end = sorted(sweeps + images, key=lambda s: s.stamp + (SWEEP_P if s.sensor == "lidar_top" else 0))

    def pairs(samples):
        feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=2)
        frames = [o for s in samples for o in feed.feed(s) if isinstance(o, AlignmentFrame)]
        return [(f.stamp, int(f.point_stamps[0])) for f in frames]

    expected = [(3_000_000 + k * CAM_P, (3_000_000 + k * CAM_P) // SWEEP_P * SWEEP_P) for k in (0, 2, 4)]
    assert pairs(by_start) == pairs(by_end) == expected


def test_an_image_whose_sweep_was_lost_pairs_with_the_one_before_or_is_skipped(rig, rules):
    feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=1)
    feed.feed(_sweep(2))
    assert _frames(feed.feed(SensorSample("cam_front", 4 * CAM_P, IMAGE))) == []  # 333 ms: waits for 300
    # the 300 ms sweep never comes; 400 ms shows it will not: paired with 200 ms (within two periods)
    out = feed.feed(_sweep(4))
    assert _frames(out) == [("cam_front", 4 * CAM_P)] and out[1].point_stamps[0] == 2 * SWEEP_P
    assert _frames(feed.feed(SensorSample("cam_front", 8 * CAM_P, IMAGE))) == []  # 667 ms: waits for 600
    assert _frames(feed.feed(_sweep(9))) == []  # 600 and 500 lost, 400 too old: skipped, not paired stale
    assert _frames(feed.feed(_sweep(10))) == []  # and not kept waiting


def test_images_waiting_for_a_sweep_are_bounded(rig, rules):
    feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=1)
    feed.feed(_sweep(0))
    for k in range(2, 40):  # the LiDAR went silent: these images all wait for sweeps not yet received
        feed.feed(SensorSample("cam_front", k * CAM_P, IMAGE))
    assert len(feed._pending) == PENDING_IMAGES  # the oldest went first; memory stays bounded
    # LiDAR back at 2.5 s: the image in its sweep pairs, older ones (their sweeps lost) are skipped, later
    # ones wait for theirs
    assert _frames(feed.feed(_sweep(25))) == [("cam_front", 31 * CAM_P)]
    assert len(feed._pending) == 39 - 31


class _Corrupt(Mapping):
    """A lazily decoded image payload whose bytes turn out corrupt when first read."""

    def __getitem__(self, key):
        raise CodecError("corrupt JPEG", topic="/cam_front/image_raw/compressed")

    def __iter__(self):
        return iter(["image"])

    def __len__(self):
        return 1


def test_a_corrupt_image_is_skipped_and_counted_while_the_stream_goes_on(rig, rules):
    feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=1)
    feed.feed(_sweep(0))
    feed.feed(SensorSample("cam_front", 1 * CAM_P, _Corrupt()))  # waits for the 100 ms sweep
    feed.feed(SensorSample("cam_front", 2 * CAM_P, IMAGE))
    out = feed.feed(_sweep(1))  # pairs both: the corrupt one is skipped, the sweep still arrives
    assert out[0] == Arrival("lidar_top", SWEEP_P) and _frames(out) == [("cam_front", 2 * CAM_P)]
    assert feed.undecodable == 1
    assert _frames(feed.feed(SensorSample("cam_front", 3 * CAM_P, IMAGE))) == []  # 250 ms waits for 200
    assert _frames(feed.feed(_sweep(2))) == [("cam_front", 3 * CAM_P)]  # not stuck on the corrupt one
