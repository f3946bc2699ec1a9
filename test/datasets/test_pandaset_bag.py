"""The imported PandaSet bag, read back with the project's BagReader and independently with ``rosbags``."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pytest
from pandaset_frames import FRAMES
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from scipy.spatial.transform import Rotation

from mmfusion_annotate.datasets.pandaset import CAMERAS, LIDARS
from mmfusion_annotate.datasets.pandaset_rig import LIDAR_HEAD_ABOVE_POSE_M, LIDAR_SPECS, ROAD_CLASS
from mmfusion_annotate.msgs.pointcloud2 import decode, points_xyz
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.recording import BagReader, deserialize
from mmfusion_annotate.rig import load_rig

MS = 1_000_000
FRAME_NUMBERS = range(FRAMES[0], FRAMES[1] + 1)


@pytest.fixture(scope="module")
def messages(imported) -> dict[str, list]:
    """Topic -> deserialized messages (project reader), in log-time order."""
    found = defaultdict(list)
    for m in BagReader(imported):
        found[m.topic].append((m.log_time_ns, deserialize(m.msgtype, m.data)))
    return found


@pytest.fixture(scope="module")
def rig(imported):
    return load_rig(imported / "rig.yaml")


def test_topics_types_and_counts_agree_between_two_readers(imported):
    n = len(FRAME_NUMBERS)
    expected = {
        "/tf_static": ("tf2_msgs/msg/TFMessage", 1),
        "/tf": ("tf2_msgs/msg/TFMessage", n + 2),  # odometry reaches one frame beyond each end
        "/odom": ("nav_msgs/msg/Odometry", n + 2),
        "/truth/objects": ("foxglove_msgs/msg/SceneUpdate", n),
    }
    for lidar in LIDARS:
        expected[f"/{lidar}/points"] = ("sensor_msgs/msg/PointCloud2", n)
        expected[f"/truth/{lidar}/semantics"] = ("sensor_msgs/msg/PointCloud2", n)
    for camera in CAMERAS:
        expected[f"/{camera}/image_raw/compressed"] = ("sensor_msgs/msg/CompressedImage", n)
        expected[f"/{camera}/camera_info"] = ("sensor_msgs/msg/CameraInfo", n)
    ours = BagReader(imported)
    counts = Counter(m.topic for m in ours)
    assert {t: (ours.topics[t], counts[t]) for t in counts} == expected
    store = get_typestore(Stores.ROS2_JAZZY)
    with Reader(imported) as reader:  # an independent reader, decoding every message
        theirs = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        for connection in reader.connections:
            if connection.msgtype not in store.types:
                store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        decoded = Counter(
            c.topic for c, _, raw in reader.messages() if store.deserialize_cdr(raw, c.msgtype) is not None
        )
        log_times = [t for _, t, _ in reader.messages()]
    assert theirs == expected
    assert decoded == counts
    assert log_times == sorted(log_times)


def _json(sequence, relative: str):
    return json.loads((sequence.root / relative).read_text(encoding="utf-8"))


def test_sweeps_are_stamped_at_their_start_with_100_ms_of_point_times_ending_at_the_frame(messages, sequence):
    frame_times = np.array(_json(sequence, "lidar/timestamps.json"))[FRAME_NUMBERS] * 1e9
    for lidar in LIDARS:
        for frame_ns, (log_ns, msg) in zip(frame_times, messages[f"/{lidar}/points"], strict=True):
            stamp = from_ros_time(msg.header.stamp)
            points = decode(msg)
            assert stamp == points["t_ns"].min()  # the sweep's start, as the project's drivers stamp it
            assert points["t_ns"].max() - stamp < 110 * MS
            if lidar == "pandar64":  # the spinning LiDAR: PandaSet's frame time is the end of its sweep
                assert abs(points["t_ns"].max() - frame_ns) < 5 * MS
                assert points["t_ns"].max() - stamp > 90 * MS
            assert log_ns == max(int(frame_ns), int(points["t_ns"].max()))  # logged once the last point is in
    for frame, (_, msg) in zip(FRAME_NUMBERS, messages["/pandar64/points"], strict=True):
        sweep = sequence.read_sweep(frame)
        assert np.array_equal(decode(msg)["t_ns"], sweep.t_ns[sweep.device == 0])  # same points, same order


def test_images_are_the_files_at_each_cameras_own_stamp(messages, sequence, rig):
    for camera in CAMERAS:
        images = messages[f"/{camera}/image_raw/compressed"]
        infos = messages[f"/{camera}/camera_info"]
        camera_times = _json(sequence, f"camera/{camera}/timestamps.json")
        for frame, (log_ns, image), (_, info) in zip(FRAME_NUMBERS, images, infos, strict=True):
            stamp = from_ros_time(image.header.stamp)
            assert stamp == log_ns and abs(stamp - camera_times[frame] * 1e9) < 1000
            assert bytes(image.data) == sequence.image_path(camera, frame).read_bytes()
            assert image.header.frame_id == info.header.frame_id == f"{camera}_optical"
            assert np.allclose(np.reshape(info.k, (3, 3)), sequence.cameras[camera].K)
            assert (info.width, info.height) == (1920, 1080) and not any(info.d)


def test_tf_static_is_the_rig(messages, rig):
    ((_, tf_static),) = messages["/tf_static"]
    edges = {(t.header.frame_id, t.child_frame_id) for t in tf_static.transforms}
    assert edges == {("base_link", lidar) for lidar in LIDARS} | {
        ("pandar64", f"{c}_optical") for c in CAMERAS
    }
    for t in tf_static.transforms:
        q = t.transform.rotation
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        T[:3, 3] = [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z]
        assert np.allclose(T, rig.transform(t.header.frame_id, t.child_frame_id), atol=1e-9)


def test_odometry_is_the_lidar_pose_moved_to_base_link_with_its_velocity(messages, sequence, rig):
    pose_from_lidar = np.eye(4)
    pose_from_lidar[2, 3] = LIDAR_HEAD_ABOVE_POSE_M  # the LiDAR frames sit at the heads, above the origin
    pose_from_base = pose_from_lidar @ np.linalg.inv(rig.sensor_to_base("pandar64"))
    odometry = messages["/odom"]
    tf = messages["/tf"]
    assert len(odometry) == len(FRAME_NUMBERS) + 2
    gps_speed = []
    for frame, (_, odom), (_, tf_msg) in zip(range(FRAMES[0] - 1, FRAMES[1] + 2), odometry, tf, strict=True):
        assert from_ros_time(odom.header.stamp) == int(sequence.stamps_ns[frame])
        assert (odom.header.frame_id, odom.child_frame_id) == ("world", "base_link")
        expected = sequence.lidar_poses[frame] @ pose_from_base
        p, q = odom.pose.pose.position, odom.pose.pose.orientation
        assert np.allclose([p.x, p.y, p.z], expected[:3, 3], atol=1e-6)
        assert np.allclose(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), expected[:3, :3], atol=1e-6)
        (transform,) = tf_msg.transforms
        assert transform.transform.translation.x == pytest.approx(p.x)
        speed = np.hypot(odom.twist.twist.linear.x, odom.twist.twist.linear.y)
        gps_speed.append((odom.twist.twist.linear.x, speed, frame))
    # the car drives forward (base_link x) at the speed its GPS reports (gps.json xvel/yvel, not used)
    gps = _json(sequence, "meta/gps.json")
    for forward, speed, frame in gps_speed:
        assert forward == pytest.approx(speed, rel=0.01)
        assert speed == pytest.approx(np.hypot(gps[frame]["xvel"], gps[frame]["yvel"]), abs=0.15)


def test_semantics_follow_the_sweep_and_put_the_lane_at_base_link_height_zero(messages, sequence, rig):
    for lidar in LIDARS:
        T = rig.sensor_to_base(lidar)
        device = LIDARS.index(lidar)
        road_heights = []
        for frame, (_, points), (_, labels) in zip(
            FRAME_NUMBERS, messages[f"/{lidar}/points"], messages[f"/truth/{lidar}/semantics"], strict=True
        ):
            cloud, classes = decode(points), decode(labels)
            assert labels.header == points.header and classes.dtype["semantic_class"] == np.uint8
            assert np.array_equal(points_xyz(cloud), points_xyz(classes))
            expected = sequence.read_semseg(frame)[sequence.read_sweep(frame).device == device]
            assert np.array_equal(classes["semantic_class"], expected)
            base = points_xyz(classes).astype(float) @ T[:3, :3].T + T[:3, 3]
            lane = (np.abs(base[:, 1]) < 2.0) & (np.abs(base[:, 0]) > 3.0) & (np.abs(base[:, 0]) < 20.0)
            road_heights.append(np.median(base[(classes["semantic_class"] == ROAD_CLASS) & lane, 2]))
        assert np.abs(road_heights).max() < 0.08  # base_link lies on the road of the car's lane


def test_lidar_frame_sits_at_the_pandar64_head(messages):
    """The top beam (+15 degrees) reads one elevation at every range only from the head's height."""
    tops = []
    for _, msg in messages["/pandar64/points"]:
        xyz = points_xyz(decode(msg)).astype(float)
        r = np.hypot(xyz[:, 0], xyz[:, 1])
        elevation = np.degrees(np.arctan2(xyz[:, 2], r))
        tops += [np.percentile(elevation[(r > a) & (r < b)], 99.9) for a, b in ((5, 10), (10, 20))]
    top = LIDAR_SPECS["pandar64"]["vertical_range_deg"][1]
    assert np.abs(np.array(tops) - top).max() < 0.5


def test_truth_objects_are_deduplicated_with_integer_ids(messages, sequence):
    for frame, (log_ns, scene) in zip(FRAME_NUMBERS, messages["/truth/objects"], strict=True):
        assert log_ns == int(sequence.stamps_ns[frame])
        meta = [{kv.key: kv.value for kv in e.metadata} for e in scene.entities]
        uuids = {m["uuid"] for m in meta}
        pairs = [
            (c.uuid, c.sibling_id) for c in sequence.read_cuboids(frame) if c.sibling_id not in (None, c.uuid)
        ]
        assert pairs and not any(a in uuids and b in uuids for a, b in pairs)  # one copy of each pair
        assert all(e.id.isdigit() and e.frame_id == "base_link" for e in scene.entities)
        assert {m["class"] for m in meta} <= {"car", "truck", "bus", "pedestrian", "cyclist", "unknown"}
        assert len({e.id for e in scene.entities}) == len(scene.entities)
