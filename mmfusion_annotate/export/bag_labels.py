"""A replayed bag's pre-labels grouped into fused frames, with the calibration and events beside them.

What an exporter needs and the bag spreads over many topics: per fused frame (one ``/prelabels/scene``
message) the cuboids with their metadata, the review items, each camera's 2D boxes and the stamp of the
image they were drawn on, and each LiDAR's sweep stamp; once per bag the ``/tf_static`` tree, each
camera's ``CameraInfo`` and the tagged events. Cuboids and boxes are decoded by ``bagtools.evaluate_bag``
(the one reader of pre-label messages); this module only groups them.

Why file order for the grouping: an annotated frame is written as one batch (scene update, review, then one
``ImageAnnotations`` per camera, logged at its image's stamp), and a camera's image can be stamped before
or after the sweep, up to half a camera period either side, so log times alone cannot say which frame an
image belongs to. The order the messages were written in can.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.bagtools.evaluate_bag import (
    IMAGE_TOLERANCE_NS,
    STAMP_TOLERANCE_NS,
    SceneBox,
    annotation_boxes,
    scene_boxes,
)
from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.source import BagFile, channels, open_bag, read_messages
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.outputs.labels import ReviewItemRecord, read_review_items
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC, annotations_topic, find_output_topic
from mmfusion_annotate.recording.salvage import ReadLosses, written_messages
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp

TF_STATIC_TOPIC = "/tf_static"
Box = tuple[float, float, float, float]
LOG_DELAY_NS = 1_000_000_000
"""Sensor messages are read this far around a window: a message is logged after its stamp (a sweep once
it is complete, an image once received)."""


@dataclass(frozen=True)
class FrameObject:
    """One tracked object in one frame: its cuboid (``frame_id`` axes) and the metadata the bag keeps."""

    box: SceneBox
    frame_id: str
    meta: dict[str, str]


@dataclass(frozen=True)
class CameraView:
    """One camera in one frame: the image's header stamp and the 2D boxes of tracked objects on it.

    Boxes are (x1, y1, x2, y2) with pixel centres at integers (OpenCV), as ``Box2D`` holds them.
    """

    stamp: Stamp
    boxes: dict[int, Box]


@dataclass
class LabelledFrame:
    """One fused frame: stamp (the sweep's), objects, review items, camera views, LiDAR sweep stamps."""

    stamp: Stamp
    objects: list[FrameObject]
    review: list[ReviewItemRecord] = field(default_factory=list)
    cameras: dict[str, CameraView] = field(default_factory=dict)
    lidars: dict[str, Stamp] = field(default_factory=dict)


@dataclass(frozen=True)
class CameraCalibration:
    """A camera's ``CameraInfo`` as numbers: optical frame, size, K (3x3), distortion model and D."""

    frame_id: str
    width: int
    height: int
    K: np.ndarray
    distortion_model: str
    D: tuple[float, ...]


@dataclass
class BagLabels:
    """Everything an export writes, read from one bag (optionally one time window of it)."""

    bag: Path
    rig: Rig
    frames: list[LabelledFrame]
    transforms: dict[str, tuple[str, np.ndarray]]
    """child frame -> (parent frame, 4x4 pose of the child in the parent), from ``/tf_static``."""
    cameras: dict[str, CameraCalibration]
    events: list[dict[str, Any]]
    topics: dict[str, str]
    """Topic -> message type of every topic in the bag."""
    losses: ReadLosses = field(default_factory=ReadLosses)
    """Damaged chunks and undecodable messages skipped while reading (the export is partial)."""


def _meta(entity) -> dict[str, str]:
    return {kv.key: kv.value for kv in entity.metadata}


def pose_matrix(translation, rotation) -> np.ndarray:
    """4x4 pose from ``geometry_msgs`` Vector3 and Quaternion fields."""
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat([rotation.x, rotation.y, rotation.z, rotation.w]).as_matrix()
    T[:3, 3] = (translation.x, translation.y, translation.z)
    return T


def _written_order(
    files: Sequence[BagFile], topics: set[str], start: Stamp | None, end: Stamp | None, losses: ReadLosses
) -> Iterator[Any]:
    """(topic, msgtype, data, log time) in the order they were written, file after file (module doc);
    damaged chunks are skipped and recorded in ``losses``."""
    for file in files:
        if file.summary is None:
            raise BagError(f"{file.path}: incomplete (no summary): run `mmfusion bag recover` on it first")
        schemas = file.summary.schemas
        with open(file.path, "rb") as stream:
            for channel, message in written_messages(
                stream, file.path, file.summary, losses, topics=topics, starting_at=start, ending_at=end
            ):
                schema = schemas.get(channel.schema_id)
                yield channel.topic, schema.name if schema else "", message.data, message.log_time


def _statics(
    files: Sequence[BagFile], rig: Rig, losses: ReadLosses
) -> tuple[dict[str, tuple[str, np.ndarray]], dict[str, CameraCalibration]]:
    infos = {s.info_topic: s.name for s in rig.cameras() if s.info_topic}
    transforms: dict[str, tuple[str, np.ndarray]] = {}
    cameras: dict[str, CameraCalibration] = {}
    for message in read_messages(files, topics={TF_STATIC_TOPIC, *infos}, losses=losses):
        msg = deserialize(message.msgtype, message.data)
        if message.topic == TF_STATIC_TOPIC:
            for t in msg.transforms:
                pose = pose_matrix(t.transform.translation, t.transform.rotation)
                transforms[t.child_frame_id] = (t.header.frame_id, pose)
        elif message.msgtype == CAMERA_INFO and infos[message.topic] not in cameras:
            cameras[infos[message.topic]] = CameraCalibration(
                msg.header.frame_id,
                int(msg.width),
                int(msg.height),
                np.asarray(msg.k, float).reshape(3, 3),
                str(msg.distortion_model),
                tuple(float(v) for v in msg.d),
            )
    return transforms, cameras


def _lidar_stamps(
    files: Sequence[BagFile], rig: Rig, start: Stamp | None, end: Stamp | None, losses: ReadLosses
) -> dict[str, list[Stamp]]:
    """LiDAR name -> sorted header stamps of its sweeps (a frame's stamp is its sweep's)."""
    topics = {s.topic: s.name for s in rig.lidars()}
    found: dict[str, list[Stamp]] = {}
    window = {
        "starting_at": None if start is None else start - LOG_DELAY_NS,
        "ending_at": None if end is None else end + LOG_DELAY_NS,
    }
    for message in read_messages(files, topics=set(topics), losses=losses, **window):
        header = deserialize(message.msgtype, message.data).header
        found.setdefault(topics[message.topic], []).append(from_ros_time(header.stamp))
    return {name: sorted(stamps) for name, stamps in found.items()}


def _nearest_within(stamps: list[Stamp], stamp: Stamp, tolerance: int) -> Stamp | None:
    if not stamps:
        return None
    i = int(np.searchsorted(stamps, stamp))
    best = min((stamps[j] for j in (i - 1, i) if 0 <= j < len(stamps)), key=lambda s: abs(s - stamp))
    return best if abs(best - stamp) <= tolerance else None


def read_bag_labels(
    bag: str | os.PathLike, rig: Rig, window_ns: tuple[Stamp, Stamp] | None = None
) -> BagLabels:
    """The labelled frames of ``bag`` whose stamps lie in ``window_ns`` (all when None).

    BagError when the bag has no ``/prelabels/scene`` message in the window (run ``mmfusion replay``).
    """
    bag = Path(bag)
    files = open_bag(bag)
    losses = ReadLosses()
    start, end = window_ns if window_ns is not None else (None, None)
    names = list(channels(files))
    scene, review = (find_output_topic(names, t, bag) or t for t in (SCENE_TOPIC, REVIEW_TOPIC))
    cameras = {find_output_topic(names, annotations_topic(s), bag) or annotations_topic(s): s.name
               for s in rig.cameras()}  # fmt: skip
    frames: list[LabelledFrame] = []
    read_start = None if start is None else start - IMAGE_TOLERANCE_NS
    read_end = None if end is None else end + IMAGE_TOLERANCE_NS
    for topic, msgtype, data, log_time in _written_order(
        files, {scene, review, *cameras}, read_start, read_end, losses
    ):
        try:
            msg = deserialize(msgtype, data)
        except CodecError as error:
            losses.skip(topic, log_time, str(error))
            continue
        if topic == scene:
            stamp, boxes = scene_boxes(msg, truth=False)
            stamp = log_time if stamp is None else stamp  # a frame without cuboids: logged at its stamp
            if window_ns is not None and not window_ns[0] <= stamp <= window_ns[1]:
                frames.append(LabelledFrame(-1, []))  # a placeholder: what follows it is not exported
                continue
            entities = {_meta(e).get("track_id"): e for e in msg.entities if _meta(e).get("kind") == "cuboid"}
            objects = [
                FrameObject(b, entities[str(b.object_id)].frame_id, _meta(entities[str(b.object_id)]))
                for b in boxes
            ]
            frames.append(LabelledFrame(stamp, objects))
        elif not frames or frames[-1].stamp < 0:
            continue  # written before the first frame of the window
        elif topic == review:
            frames[-1].review = read_review_items(msg, log_time)
        else:
            image_stamp = from_ros_time(msg.texts[0].timestamp) if msg.texts else None
            frames[-1].cameras[cameras[topic]] = CameraView(
                image_stamp if image_stamp is not None else -1,
                {oid: box for oid, box in annotation_boxes(msg) if oid >= 0},
            )
    frames = sorted((f for f in frames if f.stamp >= 0), key=lambda f: f.stamp)  # split files: in order
    if not frames:
        where = "" if window_ns is None else f" between {start} and {end} ns"
        raise BagError(f"{bag}: no pre-labels ({SCENE_TOPIC}){where}: run 'mmfusion replay' on it first")
    _fill_stamps(files, rig, frames, losses)
    transforms, calibrations = _statics(files, rig, losses)
    events = [
        e
        for e in list_events(bag)
        if int(e["end_ns"]) >= frames[0].stamp and int(e["start_ns"]) <= frames[-1].stamp
    ]
    topics = {c.topic: c.msgtype for c in channels(files).values()}
    return BagLabels(bag, rig, frames, transforms, calibrations, events, topics, losses)


def _fill_stamps(files: Sequence[BagFile], rig: Rig, frames: list[LabelledFrame], losses: ReadLosses) -> None:
    """Each frame's LiDAR sweep stamps, and the image stamps of camera views without boxes (whose
    ImageAnnotations carry no stamp): the camera's image nearest the frame."""
    start, end = frames[0].stamp, frames[-1].stamp
    for name, sweeps in _lidar_stamps(files, rig, start, end, losses).items():
        for frame in frames:
            if (stamp := _nearest_within(sweeps, frame.stamp, STAMP_TOLERANCE_NS)) is not None:
                frame.lidars[name] = stamp
    missing = {name for f in frames for name, view in f.cameras.items() if view.stamp < 0}
    if not missing:
        return
    images = {s.topic: s.name for s in rig.cameras() if s.name in missing}
    stamps: dict[str, list[Stamp]] = {}
    window = {"starting_at": start - LOG_DELAY_NS, "ending_at": end + LOG_DELAY_NS}
    for message in read_messages(files, topics=set(images), losses=losses, **window):
        header = deserialize(message.msgtype, message.data).header
        stamps.setdefault(images[message.topic], []).append(from_ros_time(header.stamp))
    for frame in frames:
        for name, view in list(frame.cameras.items()):
            if view.stamp < 0:
                found = _nearest_within(sorted(stamps.get(name, [])), frame.stamp, IMAGE_TOLERANCE_NS)
                if found is None:
                    del frame.cameras[name]
                else:
                    frame.cameras[name] = CameraView(found, view.boxes)
