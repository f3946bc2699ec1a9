"""BagWriter output read back by rosbags and by Foxglove's decoders, every message compared."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, Quaternion, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, Imu, PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from mmfusion_annotate.interfaces.definitions import schema_text, type_hash
from mmfusion_annotate.recording import BagReader, BagWriter, new_message, serialize

NS = 1_000_000_000


def stamp(ns: int) -> Time:
    return Time(sec=ns // NS, nanosec=ns % NS)


def header(ns: int, frame: str) -> Header:
    return Header(stamp=stamp(ns), frame_id=frame)


def sensor_messages(ns: int, rng: np.random.Generator) -> list[tuple[str, str, object]]:
    """One time step of a small rig: raw and JPEG camera, lidar, imu, prelabels, markers, diagnostics."""
    cloud = PointCloud2(
        header=header(ns, "lidar_top"),
        height=1,
        width=40,
        is_bigendian=False,
        point_step=16,
        row_step=640,
        fields=[
            PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
            for i, n in enumerate("xyzi")
        ],
        data=rng.integers(0, 255, 640, dtype=np.uint8).tobytes(),
        is_dense=True,
    )
    image = Image(
        header=header(ns, "cam_front_optical"),
        height=3,
        width=4,
        encoding="rgb8",
        step=12,
        data=rng.integers(0, 255, 36, dtype=np.uint8).tobytes(),
    )
    jpeg = CompressedImage(
        header=header(ns, "cam_front_optical"),
        format="jpeg",
        data=rng.integers(0, 255, 300, dtype=np.uint8).tobytes(),
    )
    imu = Imu(header=header(ns, "imu"), linear_acceleration=Vector3(x=0.1 * ns / NS, y=-2.5, z=9.81))
    box = Pose(position=Point(x=12.5, y=-1.25, z=0.75), orientation=Quaternion(z=0.5, w=0.75))
    scene = new_message(
        "foxglove_msgs/msg/SceneUpdate",
        entities=[
            {
                "timestamp": stamp(ns),
                "frame_id": "base_link",
                "id": "track-7",
                "metadata": [{"key": "class", "value": "car"}, {"key": "confidence", "value": "0.87"}],
                "cubes": [
                    {
                        "pose": box,
                        "size": {"x": 4.5, "y": 1.9, "z": 1.6},
                        "color": {"r": 1.0, "g": 0.5, "b": 0.0, "a": 0.5},
                    }
                ],
            }
        ],
    )
    annotations = new_message(
        "foxglove_msgs/msg/ImageAnnotations",
        points=[
            {
                "timestamp": stamp(ns),
                "type": 2,
                "thickness": 2.0,
                "points": [{"x": 10.0, "y": 20.0}, {"x": 110.0, "y": 20.0}, {"x": 110.0, "y": 80.0}],
                "outline_color": {"r": 0.0, "g": 1.0, "b": 0.0, "a": 1.0},
            }
        ],
        texts=[
            {
                "timestamp": stamp(ns),
                "position": {"x": 10.0, "y": 18.0},
                "text": "car 0.87",
                "font_size": 12.0,
            }
        ],
    )
    markers = MarkerArray(
        markers=[
            Marker(
                header=header(ns, "base_link"),
                ns="prelabels",
                id=7,
                type=Marker.CUBE,
                pose=box,
                scale=Vector3(x=4.5, y=1.9, z=1.6),
                color=ColorRGBA(r=1.0, g=0.5, b=0.0, a=0.5),
                text="car",
            )
        ]
    )
    diagnostics = DiagnosticArray(
        header=header(ns, ""),
        status=[
            DiagnosticStatus(
                level=DiagnosticStatus.OK,
                name="recorder",
                message="ok",
                values=[KeyValue(key="drops", value="0")],
            )
        ],
    )
    return [
        ("/lidar_top/points", "sensor_msgs/msg/PointCloud2", cloud),
        ("/cam_front/image_raw", "sensor_msgs/msg/Image", image),
        ("/cam_front/image_raw/compressed", "sensor_msgs/msg/CompressedImage", jpeg),
        ("/imu", "sensor_msgs/msg/Imu", imu),
        ("/prelabels/scene", "foxglove_msgs/msg/SceneUpdate", scene),
        ("/prelabels/cam_front/annotations", "foxglove_msgs/msg/ImageAnnotations", annotations),
        ("/prelabels/markers", "visualization_msgs/msg/MarkerArray", markers),
        ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", diagnostics),
    ]


def static_messages() -> list[tuple[str, str, object, bool]]:
    transform = TransformStamped(header=header(0, "base_link"), child_frame_id="lidar_top")
    transform.transform.translation = Vector3(x=0.9, y=0.0, z=1.8)
    info = CameraInfo(
        header=header(0, "cam_front_optical"),
        width=1600,
        height=900,
        distortion_model="plumb_bob",
        d=[0.0] * 5,
        k=[1266.0, 0, 816.0, 0, 1266.0, 491.0, 0, 0, 1],
    )
    return [
        (
            "/tf_static",
            "tf2_msgs/msg/TFMessage",
            new_message("tf2_msgs/msg/TFMessage", transforms=[transform]),
            False,
        ),
        ("/cam_front/camera_info", "sensor_msgs/msg/CameraInfo", info, True),
    ]


def event_message(ns: int):
    return new_message(
        "mmfusion_annotate/msg/Event",
        header={"stamp": stamp(ns), "frame_id": "base_link"},
        id="ev-1",
        type="hard_braking",
        severity="critical",
        start=stamp(ns - NS // 2),
        peak=stamp(ns),
        end=stamp(ns + NS // 2),
        track_ids=[7, 2**40],
        sensors=[],
        evidence_names=["peak_decel_mps2"],
        evidence_values=[-6.5],
        rule="hard_braking",
        rule_version="1",
    )


def write_sample_bag(
    bag_dir, compression: str, steps: int = 30, period_ns: int = NS // 10, split_duration_ns: int | None = NS
) -> tuple[dict[str, list], dict[str, object], BagWriter]:
    """A 3 s drive at 10 Hz split every second; returns what was written by topic, and the statics."""
    rng = np.random.default_rng(3)
    written: dict[str, list] = {}
    statics: dict[str, object] = {}
    t0 = 1_700_000_000 * NS
    with BagWriter(bag_dir, compression=compression, split_duration_ns=split_duration_ns) as writer:
        for topic, msgtype, msg, replace in static_messages():
            writer.add_topic(topic, msgtype, "latched")
            writer.set_static(topic, serialize(msgtype, msg), t0, replace=replace)
            statics[topic] = msg
        writer.add_topic("/events", "mmfusion_annotate/msg/Event", "reliable")
        for step in range(steps):
            ns = t0 + step * period_ns
            for topic, msgtype, msg in sensor_messages(ns, rng):
                writer.add_topic(topic, msgtype, "sensor_data" if "prelabels" not in topic else "reliable")
                writer.write(topic, serialize(msgtype, msg), ns)
                written.setdefault(topic, []).append((ns, msg))
            if step == 15:
                event = event_message(ns)
                writer.write("/events", serialize("mmfusion_annotate/msg/Event", event), ns)
                writer.add_event_metadata("ev-1", ns - NS // 2, ns + NS // 2, {"type": "hard_braking"})
                written["/events"] = [(ns, event)]
    return written, statics, writer


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_both_readers_decode_every_message(tmp_path, readers, compression):
    bag = tmp_path / "drive"
    written, statics, writer = write_sample_bag(bag, compression)
    files = sorted(bag.glob("*.mcap"))
    assert [f.name for f in files] == ["drive_0.mcap", "drive_1.mcap", "drive_2.mcap"]

    expected = {
        topic: readers.normalized([(ns, readers.canonical(m)) for ns, m in msgs])
        for topic, msgs in written.items()
    }
    by_rosbags = readers.rosbags(bag)
    by_node = readers.node(files)
    for topic, messages in expected.items():
        assert readers.normalized(by_rosbags["messages"][topic]) == messages, topic
        assert readers.normalized(by_node["messages"][topic]) == messages, topic
    for topic, msg in statics.items():  # once per split file, each equal to the original
        want = json.loads(json.dumps(readers.canonical(msg)))
        for decoded in (by_rosbags["messages"][topic], by_node["messages"][topic]):
            assert [m for _, m in readers.normalized(decoded)] == [want] * len(files), topic
    assert by_rosbags["message_count"] == sum(map(len, written.values())) + len(statics) * len(files)


def test_format_profile_schemas_and_metadata_agree(tmp_path, readers):
    bag = tmp_path / "drive"
    write_sample_bag(bag, "lz4")
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8 and info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["drive_0.mcap", "drive_1.mcap", "drive_2.mcap"]
    yaml_topics = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    node = readers.node(sorted(bag.glob("*.mcap")))
    for header in node["headers"]:
        assert header["profile"] == "ros2"
        for channel in header["channels"]:
            meta = yaml_topics[channel["topic"]]["topic_metadata"]
            assert channel["messageEncoding"] == "cdr" and channel["schemaEncoding"] == "ros2msg"
            assert channel["schema"] == meta["type"]
            assert channel["metadata"]["offered_qos_profiles"] == meta["offered_qos_profiles"]
            assert channel["metadata"]["topic_type_hash"] == meta["type_description_hash"]
            assert meta["type_description_hash"].startswith("RIHS01_")
    # rosbags parses the same QoS (integer enums) and hash from metadata.yaml
    by_rosbags = readers.rosbags(bag)
    assert by_rosbags["topics"]["/imu"]["qos"][0].reliability.name == "BEST_EFFORT"
    assert by_rosbags["topics"]["/tf_static"]["qos"][0].durability.name == "TRANSIENT_LOCAL"
    assert by_rosbags["topics"]["/imu"]["digest"] == type_hash("sensor_msgs/msg/Imu")
    counts = {name: t["message_count"] for name, t in yaml_topics.items()}
    assert counts["/imu"] == 30 and counts["/tf_static"] == 3 and counts["/events"] == 1
    assert sum(f["message_count"] for f in info["files"]) == info["message_count"] == sum(counts.values())


def test_schema_text_lists_every_dependency_once():
    text = schema_text("foxglove_msgs/msg/SceneUpdate")
    sections = text.split("=" * 80 + "\n")
    names = [s.splitlines()[0] for s in sections[1:]]
    assert all(n.startswith("MSG: ") for n in names) and len(names) == len(set(names))
    assert {
        "MSG: foxglove_msgs/SceneEntity",
        "MSG: geometry_msgs/Pose",
        "MSG: builtin_interfaces/Time",
        "MSG: foxglove_msgs/CubePrimitive",
        "MSG: geometry_msgs/Quaternion",
    } <= set(names)
    assert sections[0].startswith("# foxglove_msgs/msg/SceneUpdate")


def test_events_mirrored_into_the_files_they_touch(tmp_path):
    bag = tmp_path / "drive"
    write_sample_bag(bag, "none")
    reader = BagReader(bag)
    event = reader.events()["ev-1"]
    assert event["type"] == "hard_braking" and event["end_ns"] - event["start_ns"] == NS
    per_file = [BagReader(f).events() for f in reader.files]
    # the event spans 1.0 s..2.0 s of the drive: file 1 holds 1.0-1.9 s, file 2 starts at 2.0 s
    assert ["ev-1" in e for e in per_file] == [False, True, True]


def test_split_by_size_keeps_files_near_the_limit(tmp_path, readers):
    bag = tmp_path / "sized"
    rng = np.random.default_rng(5)
    limit, count = 1_000_000, 60
    with BagWriter(bag, split_size_bytes=limit, chunk_size=256 * 1024) as writer:
        writer.add_topic("/cam/image_raw", "sensor_msgs/msg/Image", "sensor_data")
        for i in range(count):
            image = Image(
                height=100,
                width=300,
                encoding="rgb8",
                step=900,
                data=rng.integers(0, 255, 90_000, dtype=np.uint8).tobytes(),
            )
            writer.write("/cam/image_raw", serialize("sensor_msgs/msg/Image", image), i * NS // 12)
    sizes = [f.stat().st_size for f in sorted(bag.glob("*.mcap"))]
    assert len(sizes) == len(writer.files) >= 5
    assert max(sizes) < limit + 90_000 + 64 * 1024  # at most one message past the limit, plus the summary
    assert readers.rosbags(bag)["message_count"] == count


def test_bag_reader_yields_time_order_across_files(tmp_path):
    bag = tmp_path / "drive"
    write_sample_bag(bag, "lz4")
    stamps = [m.log_time_ns for m in BagReader(bag)]
    assert stamps == sorted(stamps) and len(stamps) == 30 * 8 + 1 + 2 * 3
