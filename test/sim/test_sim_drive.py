"""The drive as a whole: time order, ROS messages, the bag, determinism, ego/IMU/odometry truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmfusion_annotate.msgs.image import decode_compressed
from mmfusion_annotate.msgs.pointcloud2 import decode
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.recording.metadata import read_metadata
from mmfusion_annotate.sim import Drive, SimConfig, write_bag
from mmfusion_annotate.sim.bag import TRUTH_KEY
from mmfusion_annotate.sim.scenario import Scenario

SENSORS = ("cam_front", "lidar_top", "radar_front", "imu", "odometry")


def _short(name: str, seconds: float) -> Scenario:
    from mmfusion_annotate.sim import load_scenario

    return load_scenario(name).model_copy(update={"duration_s": seconds})


def test_same_seed_gives_byte_identical_bags_and_seed_matters(light_rig, tmp_path):
    """Every file of the bag (MCAP and metadata.yaml) is identical for a seed: no wall-clock stamps, and
    the CDR padding that rclpy leaves uninitialised is written as zeros."""
    config = SimConfig(sensors=SENSORS, render={"scale": 0.125})
    scenario = _short("hard_braking", 0.6)
    for name, seed in (("a", None), ("b", None), ("c", 99)):
        write_bag(Drive(light_rig, scenario, config=config, seed=seed), tmp_path / name / "bag")
    files = sorted(p.name for p in (tmp_path / "a" / "bag").iterdir())
    assert files == ["bag_0.mcap", "metadata.yaml"]
    for f in files:
        assert (tmp_path / "a" / "bag" / f).read_bytes() == (tmp_path / "b" / "bag" / f).read_bytes(), f
    mcap = [(tmp_path / k / "bag" / "bag_0.mcap").read_bytes() for k in "ac"]
    assert mcap[0] != mcap[1]


def test_samples_are_time_ordered_with_documented_payloads(light_rig):
    drive = Drive(
        light_rig,
        _short("calm", 0.5),
        config=SimConfig(sensors=SENSORS, render={"scale": 0.125}),
        image_format="raw",
    )
    samples = list(drive.samples())
    stamps = [s.stamp for s in samples]
    assert stamps == sorted(stamps)
    kinds = {drive.sensors[s.sensor].kind: s.payload for s in samples}
    assert set(kinds) == {"camera", "lidar", "radar", "imu", "odometry"}
    assert kinds["camera"]["image"].shape == (900, 1600, 3)
    lidar = kinds["lidar"]
    assert lidar["xyz"].dtype == np.float32 and lidar["t_ns"].dtype == np.int64 and lidar["ring"].max() == 31
    assert set(kinds["radar"]) == {"xyz", "range", "azimuth", "elevation", "range_rate", "rcs"}
    assert set(kinds["odometry"]) == {"position", "orientation", "linear_velocity", "angular_velocity"}


def test_write_bag_with_truth_round_trips(light_rig, tmp_path):
    drive = Drive(
        light_rig, _short("cut_in", 0.35), config=SimConfig(sensors=SENSORS, render={"scale": 0.125})
    )
    write_bag(drive, tmp_path / "bag")
    topics: dict[str, list] = {}
    for m in BagReader(tmp_path / "bag"):
        topics.setdefault(m.topic, []).append(m)
    expected = {
        "/tf_static",
        "/cam_front/image_raw/compressed",
        "/cam_front/camera_info",
        "/lidar_top/points",
        "/radar_front/detections",
        "/imu/data",
        "/odom",
        "/truth/objects",
        "/truth/lidar_top/labels",
        "/truth/radar_front/labels",
        "/truth/cam_front/boxes",
        "/truth/ego",
    }
    assert expected <= set(topics)
    sweep = topics["/lidar_top/points"][0]
    cloud = decode(deserialize(sweep.msgtype, sweep.data))
    labels = decode(deserialize("sensor_msgs/msg/PointCloud2", topics["/truth/lidar_top/labels"][0].data))
    assert len(cloud) == len(labels) and np.array_equal(cloud["t_ns"], labels["t_ns"])
    image = decode_compressed(
        deserialize(
            topics["/cam_front/image_raw/compressed"][0].msgtype,
            topics["/cam_front/image_raw/compressed"][0].data,
        )
    )
    assert image.shape == (900, 1600, 3)
    scene = deserialize("foxglove_msgs/msg/SceneUpdate", topics["/truth/objects"][0].data)
    assert {e.id for e in scene.entities} >= {"1", "2"}
    truth = json.loads(read_metadata(tmp_path / "bag")["custom_data"][TRUTH_KEY])
    assert truth["scenario"] == "cut_in" and truth["events"][0]["type"] == "cut_in"


def test_imu_and_odometry_follow_the_ego(rig):
    drive = Drive(rig, "hard_braking", config=SimConfig(sensors=("imu", "odometry")))
    accel, times, odom = [], [], []
    for tick in drive.ticks:
        s = drive.sample(tick)
        if tick.sensor == "imu":
            accel.append(s.payload["accel"])
            times.append(tick.true_ns)
        else:
            odom.append((tick.true_ns, s.payload["position"]))
    accel, times = np.array(accel), np.array(times)
    braking = (times > 8.7e9) & (times < 10.8e9)
    assert accel[braking, 0].mean() == pytest.approx(-6.5, abs=0.1)
    assert accel[:, 2].mean() == pytest.approx(9.80665, abs=0.05)
    assert np.std(accel[times < 8e9, 0]) == pytest.approx(0.05, rel=0.2)
    t_end, p_end = odom[-1]
    true_end = drive.truth.ego_state(t_end).position[0]
    assert 0 < np.linalg.norm(p_end - true_end) < 1.0  # odometry drifts, a little


def test_contact_sheet_png(light_rig, tmp_path):
    import cv2

    from mmfusion_annotate.drawing import TILE_SIZE, TOP_VIEW_PX
    from mmfusion_annotate.sim.contact_sheet import render_contact_sheet

    drive = Drive(
        light_rig,
        _short("cut_in", 8.3),
        config=SimConfig(sensors=("cam_front", "cam_back", "lidar_top"), render={"scale": 0.125}),
    )
    sheet = render_contact_sheet(drive, tmp_path / "sheet.png", times=(1.0, 8.0))
    written = cv2.cvtColor(cv2.imread(str(tmp_path / "sheet.png")), cv2.COLOR_BGR2RGB)
    assert (written == sheet).all()
    tile_w, tile_h = TILE_SIZE
    band = 28  # each row's title
    row_h = band + max(tile_h, TOP_VIEW_PX)
    assert sheet.shape[1] == 3 * tile_w + TOP_VIEW_PX and sheet.shape[0] > 2 * row_h  # + the legend
    top = sheet[row_h + band : 2 * row_h, 3 * tile_w :]
    assert (top == (255, 150, 0)).all(axis=-1).sum() > 50  # ground-truth cuboids drawn
    cam_front = sheet[band : band + tile_h, :tile_w]
    assert (cam_front == (255, 255, 0)).all(axis=-1).sum() > 20  # 2D boxes drawn on cam_front
    legend = sheet[2 * row_h :]
    assert (legend == (255, 150, 0)).all(axis=-1).sum() > 100  # the legend's swatch
