"""Pre-labels, review items, events, coloured clouds and static messages as review-tool messages.

Carried types are encoded with the recording serializer and decoded by ``mcap_ros2`` (Foxglove's Python
decoder, built from the schema text a bag stores), installed types go through rclpy's serialization:
what is compared is what a reader of the bag would see.
"""

from __future__ import annotations

import copy
import math
from functools import cache

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import deserialize_message, serialize_message
from scipy.spatial.transform import Rotation
from visualization_msgs.msg import Marker, MarkerArray

from mmfusion_annotate.events.model import Category, Event, Severity
from mmfusion_annotate.fusion.frame import CameraView, FusedFrame, Sweep
from mmfusion_annotate.interfaces.cdr import serialize
from mmfusion_annotate.interfaces.definitions import schema_text
from mmfusion_annotate.interfaces.msgtypes import EVENT, TF_MESSAGE
from mmfusion_annotate.msgs import pointcloud2
from mmfusion_annotate.msgs.rgb import unpack_rgb
from mmfusion_annotate.outputs.labels import (
    CLASS_COLORS,
    FOXGLOVE_PIXEL_OFFSET,
    GREY,
    IMAGE_ANNOTATIONS,
    LINE_LOOP,
    REVIEW_INFLATE_M,
    SCENE_UPDATE,
    colored_cloud,
    event_message,
    image_annotations,
    read_review_items,
    review_update,
    scene_update,
)
from mmfusion_annotate.outputs.markers import CUBE_NS, TEXT_NS, marker_array
from mmfusion_annotate.outputs.static import camera_info_messages, tf_static_message
from mmfusion_annotate.outputs.topics import annotations_topic, output_topics
from mmfusion_annotate.prelabel.boxes2d import cuboid_corners
from mmfusion_annotate.prelabel.model import (
    Box2D,
    Cuboid,
    Modality,
    ObjectClass,
    PrelabelResult,
    Provenance,
    RadarCandidate,
    ReviewItem,
    Track,
)
from mmfusion_annotate.rig import default_rig_path, load_rig, rig_from_dict

STAMP = 1_700_000_000_123_456_789  # nanoseconds matter: a float round trip would lose the last digits
PROV = Provenance("lidar_dbscan_lshape", "prelabel-1.2", 0.8125)


@cache
def _decoder(msgtype: str):
    schema = Schema(id=1, name=msgtype, encoding="ros2msg", data=schema_text(msgtype).encode())
    return DecoderFactory().decoder_for("cdr", schema)


def wire(msgtype: str, msg):
    """``msg`` as a bag reader sees it: recording's CDR, decoded by mcap_ros2 from the schema text."""
    return _decoder(msgtype)(serialize(msgtype, msg))


def ns(t) -> int:
    return t.sec * 1_000_000_000 + t.nanosec


def cuboid(object_id: int, label=ObjectClass.CAR, center=(12.0, -3.0, 0.8), yaw=0.4, **kw) -> Cuboid:
    return Cuboid(object_id, STAMP, center, (4.5, 1.9, 1.6), yaw, label, 140, PROV, **kw)


def track(object_id: int, label=ObjectClass.CAR) -> Track:
    return Track(object_id, label, (100.0, 50.0), (2.0, 0.0), 0.1, 12, 11, 0, True, PROV)


def metadata(entity) -> dict[str, str]:
    return {kv.key: kv.value for kv in entity.metadata}


def yaw_of(q) -> float:
    return Rotation.from_quat([q.x, q.y, q.z, q.w]).as_euler("xyz")[2]


# ---------------------------------------------------------------- SceneUpdate
def test_scene_update_one_entity_per_cuboid_with_provenance_and_pose():
    cars = cuboid(7, radial_velocity=-1.25, radar_hits=3)
    ped = cuboid(9, ObjectClass.PEDESTRIAN, center=(5.0, 2.0, 0.9), yaw=-2.0)
    radar = RadarCandidate(
        0,
        "radar_front",
        STAMP,
        (40.0, 1.0, 0.5),
        -6.5,
        12.0,
        4,
        Provenance("radar_unsupported", "prelabel-1.2", 0.2),
    )
    result = PrelabelResult(STAMP, (cars, ped), (track(7),), radar_candidates=(radar,))

    msg = wire(SCENE_UPDATE, scene_update(result, STAMP, "base_link", lifetime_ns=250_000_000))

    assert msg.deletions == []
    entities = {e.id: e for e in msg.entities}
    assert list(entities) == ["track/7", "track/9", "radar/radar_front/0"]
    car = entities["track/7"]
    assert (ns(car.timestamp), car.frame_id, ns(car.lifetime)) == (STAMP, "base_link", 250_000_000)
    meta = metadata(car)
    assert meta["track_id"] == "7" and meta["class"] == "car"
    assert float(meta["confidence"]) == pytest.approx(PROV.confidence, abs=1e-4)
    assert (meta["source"], meta["algorithm"], meta["params_version"]) == (
        "machine",
        "lidar_dbscan_lshape",
        "prelabel-1.2",
    )
    assert float(meta["radial_velocity"]) == pytest.approx(-1.25) and meta["radar_hits"] == "3"
    assert meta["track_confirmed"] == "true" and meta["track_age"] == "12"
    assert "track_confirmed" not in metadata(entities["track/9"])  # no track state given for 9
    (cube,) = car.cubes
    p = cube.pose.position
    assert (p.x, p.y, p.z) == cars.center
    assert yaw_of(cube.pose.orientation) == pytest.approx(cars.yaw)
    assert (cube.size.x, cube.size.y, cube.size.z) == cars.size
    assert (cube.color.r, cube.color.g, cube.color.b) == CLASS_COLORS[ObjectClass.CAR]
    ped_color = entities["track/9"].cubes[0].color
    assert (ped_color.r, ped_color.g, ped_color.b) == CLASS_COLORS[ObjectClass.PEDESTRIAN]
    assert car.texts[0].text == "car #7 0.81" and car.texts[0].pose.position.z > cars.center[2] + 0.8
    radar_meta = metadata(entities["radar/radar_front/0"])
    assert radar_meta["kind"] == "radar_candidate" and float(radar_meta["range_rate"]) == -6.5
    assert entities["radar/radar_front/0"].spheres[0].pose.position.x == 40.0


def test_scene_update_deletes_entities_of_retired_tracks():
    before = PrelabelResult(STAMP, (cuboid(1), cuboid(2)))
    now = PrelabelResult(STAMP + 100_000_000, (cuboid(2), cuboid(3)))

    msg = wire(SCENE_UPDATE, scene_update(now, now.stamp, previous=before))

    assert [(d.id, d.type, ns(d.timestamp)) for d in msg.deletions] == [("track/1", 0, now.stamp)]
    assert [e.id for e in msg.entities] == ["track/2", "track/3"]
    assert wire(SCENE_UPDATE, scene_update(now, now.stamp)).deletions == []


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-80, 80),
    y=st.floats(-80, 80),
    z=st.floats(-2, 3),
    yaw=st.floats(-math.pi, math.pi),
    size=st.tuples(st.floats(0.3, 15), st.floats(0.3, 4), st.floats(0.3, 4)),
)
def test_scene_cube_has_the_prelabel_corners(x, y, z, yaw, size):
    """The cube Foxglove draws (pose + size) spans exactly the corners the pre-labeller projects."""
    c = Cuboid(1, STAMP, (x, y, z), size, yaw, ObjectClass.TRUCK, 10, PROV)
    (cube,) = wire(SCENE_UPDATE, scene_update(PrelabelResult(STAMP, (c,)), STAMP)).entities[0].cubes
    q, p = cube.pose.orientation, cube.pose.position
    R = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))])
    drawn = (signs * [cube.size.x, cube.size.y, cube.size.z] / 2) @ R.T + [p.x, p.y, p.z]
    np.testing.assert_allclose(drawn, cuboid_corners(c.center, c.size, c.yaw), atol=1e-9)


# ---------------------------------------------------------------- review items
def test_review_update_carries_the_queue_in_metadata():
    car = cuboid(4)
    items = (
        ReviewItem(
            "cuboid_in_view_without_camera_evidence",
            (Modality.LIDAR, Modality.CAMERA),
            0.72,
            (4,),
            STAMP,
            "cam_front",
            "evidence 0.10",
        ),
        ReviewItem("radar_target_without_lidar_support", (Modality.RADAR, Modality.LIDAR), 0.4, (), STAMP),
        ReviewItem("radar_target_without_lidar_support", (Modality.RADAR, Modality.LIDAR), 0.4, (), STAMP),
    )
    msg = wire(SCENE_UPDATE, review_update(PrelabelResult(STAMP, (car,), review_items=items), STAMP))

    ids = [e.id for e in msg.entities]
    assert len(set(ids)) == 3 and ids[0] == "review/cuboid_in_view_without_camera_evidence/4/cam_front"
    first = metadata(msg.entities[0])
    assert first["reason"] == items[0].reason and first["modalities"] == "lidar,camera"
    assert float(first["priority"]) == 0.72 and first["object_ids"] == "4" and first["camera"] == "cam_front"
    (outline,) = msg.entities[0].cubes
    assert outline.size.x == pytest.approx(car.size[0] + REVIEW_INFLATE_M)
    assert outline.pose.position.x == car.center[0]
    assert msg.entities[1].cubes == [] and metadata(msg.entities[1])["object_ids"] == ""


def test_review_items_read_back_with_every_field():
    """``read_review_items`` is ``review_update``'s inverse: what every review tool reads."""
    item = ReviewItem("class_flip", (Modality.LIDAR, Modality.CAMERA), 0.36, (4, 11), STAMP + 5, "cam_front",
                      "car -> truck", (("iou", 0.25), ("iou_threshold", 0.5)), severity=0.6, confidence=0.75)
    bare = ReviewItem("radar_target_without_lidar_support", (Modality.RADAR,), 0.2, (), STAMP)
    result = PrelabelResult(STAMP, (cuboid(4),), review_items=(item, bare))
    msg = wire(SCENE_UPDATE, review_update(result, STAMP))
    first, second = read_review_items(msg, log_time_ns=0)
    assert (first.reason, first.stamp, first.priority, first.modalities, first.object_ids, first.camera,
            first.detail, first.severity, first.confidence) == (
        "class_flip", STAMP + 5, 0.36, ("lidar", "camera"), (4, 11), "cam_front", "car -> truck", 0.6, 0.75)
    assert first.numeric_evidence() == {"iou": 0.25, "iou_threshold": 0.5}
    assert (second.object_ids, second.camera, second.detail, second.evidence) == ((), "", "", {})
    assert first.to_dict()["camera"] == "cam_front" and second.to_dict()["camera"] is None


# ---------------------------------------------------------------- ImageAnnotations
def test_image_annotations_carry_the_image_header_stamp_not_the_exposure():
    header_stamp = STAMP + 37  # the image message's header.stamp
    exposure = header_stamp + 8_000_000  # what fusion stores: header + clock offset
    boxes = (
        Box2D(
            5, "cam_front", exposure, (100.0, 200.0, 300.0, 260.0), 0.0, 0.9, 0.7, ObjectClass.CYCLIST, PROV
        ),
        Box2D(6, "cam_back", exposure, (1.0, 2.0, 3.0, 4.0), 0.0, 0.9, 0.7, ObjectClass.CAR, PROV),
    )
    review = ReviewItem(
        "box2d_disagrees_with_cuboid", (Modality.LIDAR, Modality.CAMERA), 0.6, (5,), STAMP, "cam_front"
    )
    result = PrelabelResult(STAMP, boxes2d=boxes, review_items=(review,))

    msg = wire(IMAGE_ANNOTATIONS, image_annotations(result, "cam_front", header_stamp))

    stamps = {ns(a.timestamp) for a in [*msg.points, *msg.texts]}
    assert stamps == {header_stamp}
    (loop,) = msg.points  # the cam_back box is not on this image
    assert loop.type == LINE_LOOP
    o = FOXGLOVE_PIXEL_OFFSET
    assert [(p.x, p.y) for p in loop.points] == [
        (100 + o, 200 + o),
        (300 + o, 200 + o),
        (300 + o, 260 + o),
        (100 + o, 260 + o),
    ]
    c = loop.outline_color
    assert (c.r, c.g, c.b, c.a) == (*CLASS_COLORS[ObjectClass.CYCLIST], 1.0)
    assert [t.text for t in msg.texts] == ["cyclist #5 0.81", "box2d_disagrees_with_cuboid"]
    assert wire(IMAGE_ANNOTATIONS, image_annotations(result, "cam_left", header_stamp)).points == []


# ---------------------------------------------------------------- MarkerArray
def test_marker_array_survives_rclpy_serialization():
    cars = (cuboid(3), cuboid(8, ObjectClass.BUS, center=(-20.0, 4.0, 1.6), yaw=3.0))
    sent = marker_array(PrelabelResult(STAMP, cars), STAMP, "base_link")

    got = deserialize_message(serialize_message(sent), MarkerArray).markers

    assert got[0].action == Marker.DELETEALL
    cubes = [m for m in got if m.ns == CUBE_NS]
    texts = [m for m in got if m.ns == TEXT_NS]
    assert [m.id for m in cubes] == [3, 8] and [m.id for m in texts] == [3, 8]
    for m, c in zip(cubes, cars, strict=True):
        assert m.type == Marker.CUBE and m.action == Marker.ADD and m.header.frame_id == "base_link"
        assert ns(m.header.stamp) == STAMP
        assert (m.pose.position.x, m.pose.position.y, m.pose.position.z) == c.center
        assert yaw_of(m.pose.orientation) == pytest.approx(c.yaw)
        assert (m.scale.x, m.scale.y, m.scale.z) == c.size
        assert (m.color.r, m.color.g, m.color.b) == pytest.approx(CLASS_COLORS[c.label])
    assert texts[1].type == Marker.TEXT_VIEW_FACING and texts[1].text == "bus #8 0.81"


# ---------------------------------------------------------------- events
def test_event_message_fields():
    event = Event(
        id="0123456789abcdef",
        type="low_ttc",
        category=Category.DRIVING,
        severity=Severity.CRITICAL,
        start=STAMP,
        peak=STAMP + 400_000_000,
        end=STAMP + 900_000_000,
        detected=STAMP + 200_000_000,
        object_ids=(4, 11),
        sensor="radar_front",
        evidence=(("closing_speed_mps", 8.5), ("min_ttc_s", 1.25)),
        rule="low_ttc",
        rule_version="2",
    )
    msg = wire(EVENT, event_message(event))

    assert (ns(msg.header.stamp), msg.header.frame_id) == (event.peak, "base_link")
    assert (msg.id, msg.type, msg.severity) == (event.id, "low_ttc", "critical")
    assert [ns(msg.start), ns(msg.peak), ns(msg.end)] == [event.start, event.peak, event.end]
    assert list(msg.track_ids) == [4, 11] and list(msg.sensors) == ["radar_front"]
    assert dict(zip(msg.evidence_names, msg.evidence_values, strict=True)) == event.evidence_dict()
    assert (msg.rule, msg.rule_version) == ("low_ttc", "2")
    no_sensor = wire(
        EVENT, event_message(Event("x", "hard_braking", Category.DRIVING, Severity.WATCH, 1, 2, 3, 2))
    )
    assert list(no_sensor.sensors) == [] and list(no_sensor.track_ids) == []


# ---------------------------------------------------------------- coloured cloud
def _view(name: str, index, depth, colors, n: int) -> CameraView:
    m = len(index)
    return CameraView(
        name,
        None,
        STAMP,
        64,
        48,
        n,
        np.asarray(index, np.int32),
        np.zeros((m, 2), np.float32),
        np.asarray(depth, np.float32),
        np.ones(m, bool),
        np.asarray(colors, np.uint8),
    )


def test_colored_cloud_takes_the_nearest_camera_and_greys_the_rest():
    n = 5
    xyz = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    sweep = Sweep(
        "lidar_top",
        STAMP,
        xyz,
        xyz + 0.5,
        np.zeros(n, np.float32),
        np.zeros(n, np.uint16),
        np.full(n, STAMP, np.int64),
    )
    cams = {
        "a": _view("a", [0, 1], [5.0, 9.0], [[255, 0, 0], [255, 0, 0]], n),
        "b": _view("b", [1, 3], [2.0, 4.0], [[0, 255, 0], [0, 0, 255]], n),
    }
    frame = FusedFrame(STAMP, sweep, cams, {}, None, load_rig(default_rig_path()), "numpy")

    msg = colored_cloud(frame)
    points = pointcloud2.decode(msg)

    assert msg.header.frame_id == "base_link" and ns(msg.header.stamp) == STAMP
    np.testing.assert_array_equal(pointcloud2.points_xyz(points), sweep.xyz_deskewed)
    expected = [[255, 0, 0], [0, 255, 0], list(GREY), [0, 0, 255], list(GREY)]
    np.testing.assert_array_equal(unpack_rgb(points["rgb"]), expected)


# ---------------------------------------------------------------- static messages
def _matrix(transform) -> np.ndarray:
    t, q = transform.translation, transform.rotation
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    T[:3, 3] = [t.x, t.y, t.z]
    return T


def _rig_with_roof_mount():
    doc = copy.deepcopy(yaml.safe_load(default_rig_path().read_text(encoding="utf-8")))
    doc["frames"] = [
        {
            "name": "roof_mount",
            "extrinsic": {"parent": "base_link", "translation": [0.9, 0.0, 1.7], "rpy_deg": [0.0, 2.0, 5.0]},
        }
    ]
    lidar = next(s for s in doc["sensors"] if s["kind"] == "lidar")
    lidar["extrinsic"]["parent"] = "roof_mount"
    return rig_from_dict(doc), lidar["frame_id"]


def test_tf_static_is_the_rig_frame_tree():
    rig, lidar_frame = _rig_with_roof_mount()

    msg = wire(TF_MESSAGE, tf_static_message(rig, STAMP))

    edges = {t.child_frame_id: t for t in msg.transforms}
    assert set(edges) == set(rig.frames()) - {rig.base_frame}  # no self-transform for odometry's base_link
    assert edges[lidar_frame].header.frame_id == "roof_mount"
    for child, t in edges.items():
        assert ns(t.header.stamp) == STAMP
        np.testing.assert_allclose(_matrix(t.transform), rig.transform(t.header.frame_id, child), atol=1e-12)
    # composing the published edges gives the rig's transform between any two frames
    T = _matrix(edges["roof_mount"].transform) @ _matrix(edges[lidar_frame].transform)
    np.testing.assert_allclose(T, rig.transform("base_link", lidar_frame), atol=1e-12)


def test_camera_info_per_info_topic():
    rig = load_rig(default_rig_path())

    infos = camera_info_messages(rig, STAMP)

    assert list(infos) == [c.info_topic for c in rig.cameras()]
    for cam in rig.cameras():
        info = infos[cam.info_topic]
        assert info.header.frame_id == cam.frame_id and ns(info.header.stamp) == STAMP
        assert (info.width, info.height) == (cam.camera.width, cam.camera.height)
        np.testing.assert_allclose(np.reshape(info.k, (3, 3)), cam.camera.K)


def test_output_topics_name_known_types_and_camera_namespaces():
    rig = load_rig(default_rig_path())
    topics = output_topics(rig)

    assert len({t.topic for t in topics}) == len(topics)
    for t in topics:
        assert schema_text(t.msgtype)  # every type has a definition a bag can carry
    front = rig.sensor("cam_front")
    assert annotations_topic(front) == "/cam_front/annotations"  # image on /cam_front/image_raw/compressed
    assert {
        "/prelabels/scene",
        "/prelabels/markers",
        "/prelabels/review",
        "/events",
        "/fusion/colored_cloud",
        "/tf_static",
        "/cam_front/annotations",
        front.info_topic,
    } <= {t.topic for t in topics}


# ---------------------------------------------------------------- all of it in a bag
def test_every_output_topic_records_and_reads_back_with_rosbags(tmp_path):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from mmfusion_annotate.recording import BagWriter

    rig = load_rig(default_rig_path())
    front = rig.sensor("cam_front")
    result = PrelabelResult(
        STAMP,
        (cuboid(2),),
        boxes2d=(Box2D(2, "cam_front", STAMP, (1.0, 2.0, 30.0, 40.0), 0.0, 1.0, 1.0, ObjectClass.CAR, PROV),),
    )
    event = Event("e1", "hard_braking", Category.DRIVING, Severity.SEVERE, STAMP, STAMP, STAMP, STAMP)
    installed = {
        "/prelabels/markers": marker_array(result, STAMP, "base_link"),
        **camera_info_messages(rig, STAMP),
    }
    carried = {
        "/prelabels/scene": scene_update(result, STAMP),
        "/prelabels/review": review_update(result, STAMP),
        "/events": event_message(event),
        "/tf_static": tf_static_message(rig, STAMP),
        annotations_topic(front): image_annotations(result, "cam_front", STAMP),
    }
    written = {**installed, **carried}
    topics = {t.topic: t for t in output_topics(rig) if t.topic in written}
    with BagWriter(tmp_path / "bag") as bag:
        for topic, t in topics.items():
            bag.add_topic(topic, t.msgtype, t.qos)
            bag.write(topic, serialize(t.msgtype, written[topic]), STAMP)

    store = get_typestore(Stores.EMPTY)
    read = {}
    with Reader(tmp_path / "bag") as reader:
        for connection in reader.connections:
            store.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        for connection, _, raw in reader.messages():
            read[connection.topic] = (connection.msgtype, store.deserialize_cdr(raw, connection.msgtype))
    assert {topic: msgtype for topic, (msgtype, _) in read.items()} == {
        t: v.msgtype for t, v in topics.items()
    }
    assert read["/prelabels/scene"][1].entities[0].id == "track/2"
    assert read["/prelabels/markers"][1].markers[1].id == 2
    assert read["/events"][1].severity == "severe"
    assert ns(read[annotations_topic(front)][1].points[0].timestamp) == STAMP
    assert len(read["/tf_static"][1].transforms) == len(rig.frames()) - 1
    assert read[front.info_topic][1].header.frame_id == front.frame_id
