"""Adapters from samples and pre-labels to observations."""

import numpy as np

from mmfusion_annotate.events import AlignmentFrame, Arrival, EgoState
from mmfusion_annotate.events.feed import SampleFeed, review_counts, track_frame
from mmfusion_annotate.prelabel.model import (
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
    item = ReviewItem("no camera evidence", (Modality.LIDAR, Modality.CAMERA), 0.5, (4,), 100)
    result = PrelabelResult(100, cuboids=(cuboid,), tracks=tracks, review_items=(item,))
    frame = track_frame(result)
    assert frame.stamp == 100 and [o.track_id for o in frame.objects] == [4]
    (obj,) = frame.objects
    assert obj.cls == "car" and obj.position == (20.0, 1.0) and obj.size == (4.4, 1.8)
    assert obj.velocity == (10.0, 0.0) and obj.radial_velocity == 9.5
    counts = review_counts(result)
    assert (counts.review_items, counts.objects) == (1, 1)


def test_samples_become_ego_arrivals_and_alignment_frames(rig, rules):
    feed = SampleFeed(rig, rules, alignment_cameras=["cam_front"], alignment_every=2)
    assert feed.feed(SensorSample("odometry", 0, {"linear_velocity": np.array([5.0, 0.0, 0.0]),
                                                  "angular_velocity": np.array([0.0, 0.0, 0.1])})) == []
    (ego,) = feed.feed(SensorSample("imu", 10, {"accel": np.array([1.0, 0.0, 9.81]), "gyro": np.zeros(3)}))
    assert isinstance(ego, EgoState) and ego.speed == 5.0
    sweep = {"xyz": np.ones((4, 3), np.float32), "ring": np.arange(4), "t_ns": np.full(4, 20)}
    assert feed.feed(SensorSample("lidar_top", 20, sweep)) == [Arrival("lidar_top", 20)]
    image = {"image": np.zeros((900, 1600, 3), np.uint8)}
    out = [feed.feed(SensorSample("cam_front", 30 + k, image)) for k in range(3)]
    assert [len(o) for o in out] == [2, 1, 2]
    frame = out[0][1]
    assert isinstance(frame, AlignmentFrame) and frame.ego_velocity == (5.0, 0.0) and frame.yaw_rate == 0.1
    assert np.allclose(frame.points_base[0], rig.sensor_to_base("lidar_top")[:3, :3] @ np.ones(3)
                       + rig.sensor_to_base("lidar_top")[:3, 3])
    assert feed.feed(SensorSample("cam_back", 40, image)) == [Arrival("cam_back", 40)]
