"""``mmfusion import-labels``: an OpenLABEL file (say, the labels people corrected in a platform) back into
a bag's truth topics, so ``mmfusion evaluate`` scores the pre-labels against them.

The input bag is never touched: the output is a new bag with every message of the input except its truth
topics (``/truth/objects`` and ``/truth/<camera>/boxes``), which carry the file's labels instead, plus the
input's rig file. The file is checked before anything is written: the OpenLABEL schema first, then that
every stream and bbox names a sensor of the bag's rig, that every frame has a stamp and every cuboid a
coordinate system the file or the rig defines. The first problem is reported by its JSON path.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.bagtools.events import list_events
from mmfusion_annotate.bagtools.source import channels, is_static, open_bag, parse_qos, read_messages
from mmfusion_annotate.errors import LabelFileError
from mmfusion_annotate.export.conventions import box_from_bbox_val, cuboid_from_val
from mmfusion_annotate.export.schema import json_path, validate
from mmfusion_annotate.interfaces.msgtypes import TF_MESSAGE
from mmfusion_annotate.outputs.labels import IMAGE_ANNOTATIONS, SCENE_UPDATE, image_annotations
from mmfusion_annotate.outputs.truth import TRUTH_OBJECTS, truth_entity, truth_scene_update, truth_topic
from mmfusion_annotate.prelabel.model import Box2D, ObjectClass, PrelabelResult, Provenance
from mmfusion_annotate.recording import BagWriter, serialize
from mmfusion_annotate.recording.bag_dir import bag_rig_file, carry_rig
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import NS_PER_S, Stamp, vec3

SOURCE = "openlabel"
"""``source`` metadata of imported truth objects."""


@dataclass(frozen=True)
class ImportedObject:
    object_id: int
    label: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    velocity: tuple[float, float] = (0.0, 0.0)
    """Over ground in base-frame axes, from the cuboid's ``velocity`` attribute where the file has one."""


@dataclass
class ImportedFrame:
    """One OpenLABEL frame: its stamp, cuboids (in the rig's base frame) and 2D boxes per camera."""

    stamp: Stamp
    objects: list[ImportedObject] = field(default_factory=list)
    boxes: dict[str, list[tuple[int, str, tuple[float, float, float, float]]]] = field(default_factory=dict)


def load_openlabel(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed, schema-valid document of ``path``; LabelFileError otherwise."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise LabelFileError(f"{path}: cannot read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LabelFileError(f"{path}: not JSON ({error})") from None
    validate(document, str(path))
    return document


def _pose(data: dict[str, Any], where: list) -> np.ndarray:
    T = np.eye(4)
    if "matrix4x4" in data:
        values = data["matrix4x4"]
        if len(values) != 16:
            raise LabelFileError(f"{json_path(where + ['matrix4x4'])}: 16 values expected, got {len(values)}")
        return np.asarray(values, float).reshape(4, 4)
    if "quaternion" in data:
        T[:3, :3] = Rotation.from_quat(data["quaternion"]).as_matrix()
    else:
        T[:3, :3] = Rotation.from_euler(data.get("sequence", "ZYX"), data["euler_angles"]).as_matrix()
    T[:3, 3] = data["translation"]
    return T


def _root_poses(label: dict[str, Any]) -> dict[str, np.ndarray]:
    """Coordinate system name -> its pose in the root of its tree (the file's ``pose_wrt_parent`` chain)."""
    systems = label.get("coordinate_systems", {})
    poses: dict[str, np.ndarray] = {}

    def pose(name: str, depth: int = 0) -> np.ndarray:
        if name in poses:
            return poses[name]
        system = systems[name]
        where = ["openlabel", "coordinate_systems", name]
        if depth > len(systems) or (system["parent"] and system["parent"] not in systems):
            raise LabelFileError(
                f"{json_path(where + ['parent'])}: unknown or cyclic parent '{system['parent']}'"
            )
        if not system["parent"]:
            poses[name] = np.eye(4)
        else:
            local = _pose(
                system.get("pose_wrt_parent", {"matrix4x4": np.eye(4).reshape(-1).tolist()}),
                where + ["pose_wrt_parent"],
            )
            poses[name] = pose(system["parent"], depth + 1) @ local
        return poses[name]

    for name in systems:
        pose(name)
    return poses


def _to_base(label: dict[str, Any], rig: Rig) -> dict[str, np.ndarray]:
    """Coordinate system name -> 4x4 from it into the rig's base frame (the base frame itself included)."""
    systems = label.get("coordinate_systems", {})
    roots = _root_poses(label)
    base = next(
        (n for n, s in systems.items() if n == rig.base_frame or s.get("frame_id") == rig.base_frame), None
    )
    out = {rig.base_frame: np.eye(4)}
    if base is not None:
        inverse = np.linalg.inv(roots[base])
        out |= {name: inverse @ pose for name, pose in roots.items()}
    return out


def _object_ids(label: dict[str, Any]) -> dict[str, int]:
    """Object uid -> integer id: numeric uids keep their value, UUIDs are numbered after the largest one."""
    uids = list(label.get("objects", {}))
    numeric = {u: int(u) for u in uids if u.lstrip("-").isdigit()}
    start = max(numeric.values(), default=0) + 1
    others = {u: start + k for k, u in enumerate(u for u in uids if u not in numeric)}
    return numeric | others


def _frame_classes(label: dict[str, Any]) -> dict[str, set[str]]:
    """Object uid -> the per-frame ``class`` attributes of its cuboids (the exporter writes them: a track's
    class can change from frame to frame, an OpenLABEL object has one type)."""
    out: dict[str, set[str]] = {}
    for frame in label.get("frames", {}).values():
        for uid, entry in frame.get("objects", {}).items():
            for cuboid in entry.get("object_data", {}).get("cuboid", []):
                for text in cuboid.get("attributes", {}).get("text", []):
                    if text.get("name") == "class":
                        out.setdefault(uid, set()).add(text["val"])
    return out


def parse_openlabel(document: dict[str, Any], rig: Rig) -> list[ImportedFrame]:
    """The frames of a schema-valid document, checked against ``rig`` (LabelFileError at the first fault)."""
    label = document["openlabel"]
    sensors = {s.name for s in rig.sensors.values()}
    cameras = {s.name for s in rig.cameras()}
    for name in label.get("streams", {}):
        if name not in sensors:
            raise LabelFileError(
                f"{json_path(['openlabel', 'streams', name])}: stream '{name}' is not a sensor "
                f"of the bag's rig '{rig.name}' ({', '.join(sorted(sensors))})"
            )
    to_base = _to_base(label, rig)
    ids = _object_ids(label)
    objects = label.get("objects", {})
    frame_classes = _frame_classes(label)
    frames = []
    for key, frame in sorted(label.get("frames", {}).items(), key=lambda kv: int(kv[0])):
        where = ["openlabel", "frames", key]
        props = frame.get("frame_properties", {})
        for name in props.get("streams", {}):
            if name not in sensors:
                raise LabelFileError(
                    f"{json_path(where + ['frame_properties', 'streams', name])}: stream "
                    f"'{name}' is not a sensor of the bag's rig '{rig.name}'"
                )
        if "timestamp_ns" in props:
            stamp = int(props["timestamp_ns"])
        elif isinstance(props.get("timestamp"), (int, float)):
            stamp = round(float(props["timestamp"]) * NS_PER_S)
        else:
            raise LabelFileError(
                f"{json_path(where + ['frame_properties'])}: no numeric timestamp "
                "(timestamp_ns, or timestamp in seconds)"
            )
        imported = ImportedFrame(stamp)
        for uid, entry in frame.get("objects", {}).items():
            at = where + ["objects", uid, "object_data"]
            if uid not in objects:
                raise LabelFileError(f"{json_path(at[:-1])}: object '{uid}' is not in $.openlabel.objects")
            cls = objects[uid]["type"]
            data = entry.get("object_data", {})
            for k, cuboid in enumerate(data.get("cuboid", [])):
                if cuboid["val"] is None:
                    continue
                system = (
                    cuboid.get("coordinate_system") or objects[uid].get("coordinate_system") or rig.base_frame
                )
                if system not in to_base:
                    raise LabelFileError(
                        f"{json_path(at + ['cuboid', k, 'coordinate_system'])}: coordinate system "
                        f"'{system}' is neither the rig's base frame nor tied to it in the file"
                    )
                center, size, yaw = cuboid_from_val(cuboid["val"])
                T = to_base[system]
                center = vec3(T[:3, :3] @ np.asarray(center) + T[:3, 3])
                yaw = math.atan2(
                    math.sin(yaw + math.atan2(T[1, 0], T[0, 0])), math.cos(yaw + math.atan2(T[1, 0], T[0, 0]))
                )
                attributes = cuboid.get("attributes", {})
                vecs = {v.get("name"): v["val"] for v in attributes.get("vec", [])}
                vx, vy = (float(v) for v in (vecs.get("velocity") or [0.0, 0.0])[:2])
                wx, wy = (float(v) for v in T[:2, :2] @ np.array([vx, vy]))
                texts = {t.get("name"): t["val"] for t in attributes.get("text", [])}
                label = texts.get("class", cls) if cls in frame_classes.get(uid, ()) else cls
                imported.objects.append(ImportedObject(ids[uid], label, center, size, yaw, (wx, wy)))
            for k, bbox in enumerate(data.get("bbox", [])):
                camera = bbox.get("coordinate_system") or bbox["name"]
                if camera not in cameras:
                    raise LabelFileError(
                        f"{json_path(at + ['bbox', k])}: bbox of camera '{camera}', which the "
                        f"bag's rig '{rig.name}' does not have ({', '.join(sorted(cameras))})"
                    )
                imported.boxes.setdefault(camera, []).append((ids[uid], cls, box_from_bbox_val(bbox["val"])))
        frames.append(imported)
    if not frames:
        raise LabelFileError("$.openlabel.frames: no frames: nothing to import")
    return frames


def _image_stamps(document: dict[str, Any]) -> dict[tuple[int, str], Stamp]:
    """(frame stamp, camera) -> stamp of the image the frame's boxes are drawn on, where the file says."""
    out = {}
    for frame in document["openlabel"].get("frames", {}).values():
        props = frame.get("frame_properties", {})
        stamp = props.get("timestamp_ns")
        for name, stream in props.get("streams", {}).items():
            image = stream.get("stream_properties", {}).get("stamp_ns")
            if stamp is not None and image is not None:
                out[(int(stamp), name)] = int(image)
    return out


def _class(label: str) -> ObjectClass:
    try:
        return ObjectClass(label)
    except ValueError:
        return ObjectClass.UNKNOWN


def _truth_messages(
    frames: list[ImportedFrame], rig: Rig, image_stamps: dict
) -> list[tuple[str, str, Any, Stamp]]:
    out = []
    human = Provenance(SOURCE, "", 1.0, source="human")
    for frame in frames:
        entities = [
            truth_entity(
                o.object_id,
                o.label,
                o.center,
                o.yaw,
                o.size,
                rig.base_frame,
                frame.stamp,
                [("source", SOURCE), ("velocity_base", f"{o.velocity[0]:.4f} {o.velocity[1]:.4f} 0.0000")],
            )
            for o in frame.objects
        ]
        out.append((TRUTH_OBJECTS, SCENE_UPDATE, truth_scene_update(entities), frame.stamp))
        for camera, boxes in frame.boxes.items():
            stamp = image_stamps.get((frame.stamp, camera), frame.stamp)
            result = PrelabelResult(
                frame.stamp,
                boxes2d=tuple(
                    Box2D(oid, camera, stamp, box, 0.0, 1.0, 1.0, _class(cls), human)
                    for oid, cls, box in boxes
                ),
            )
            out.append(
                (
                    truth_topic(camera, "boxes"),
                    IMAGE_ANNOTATIONS,
                    image_annotations(result, camera, stamp),
                    stamp,
                )
            )
    return out


@dataclass(frozen=True)
class ImportSummary:
    output: Path
    frames: int
    objects: int
    boxes: int
    copied: int
    replaced_topics: tuple[str, ...]


def import_labels(
    label_file: str | os.PathLike, bag: str | os.PathLike, output: str | os.PathLike, rig: Rig
) -> ImportSummary:
    """Write ``output``: ``bag`` with its truth topics replaced by ``label_file``'s labels (module doc)."""
    document = load_openlabel(label_file)
    try:
        frames = parse_openlabel(document, rig)
    except LabelFileError as error:
        raise LabelFileError(f"{label_file}: {error}") from None
    output = Path(output)
    files = open_bag(bag)
    for bag_file in files:
        bag_file.require_complete()
    known = channels(files)
    replaced = {TRUTH_OBJECTS} | {truth_topic(c.name, "boxes") for c in rig.cameras()}
    truth = sorted(_truth_messages(frames, rig, _image_stamps(document)), key=lambda m: m[3])
    copied = 0
    compression = next(
        (c.compression or "none" for f in files for c in f.require_complete().chunk_indexes), "none"
    )
    with BagWriter(output, compression=compression) as writer:  # the source's compression
        writer.custom_data["mmfusion.labels_from"] = str(Path(label_file).resolve())
        for channel in known.values():
            if channel.topic not in replaced:
                writer.add_topic(channel.topic, channel.msgtype, parse_qos(channel.qos_yaml))
        for topic, msgtype, _, _ in truth:
            if topic not in writer.topics:
                writer.add_topic(topic, msgtype)
        for event in list_events(bag):
            fields = {k: v for k, v in event.items() if k not in ("id", "start_ns", "end_ns")}
            writer.add_event_metadata(event["id"], int(event["start_ns"]), int(event["end_ns"]), fields)
        pending = iter(truth)
        next_truth = next(pending, None)
        for message in read_messages(files):
            while next_truth is not None and next_truth[3] <= message.log_time_ns:
                writer.write(next_truth[0], serialize(next_truth[1], next_truth[2]), next_truth[3])
                next_truth = next(pending, None)
            if message.topic in replaced:
                continue
            if is_static(known[message.topic]):
                writer.set_static(
                    message.topic,
                    message.data,
                    message.log_time_ns,
                    replace=known[message.topic].msgtype != TF_MESSAGE,
                )
            else:
                writer.write(message.topic, message.data, message.log_time_ns)
            copied += 1
        while next_truth is not None:
            writer.write(next_truth[0], serialize(next_truth[1], next_truth[2]), next_truth[3])
            next_truth = next(pending, None)
    rig_file = bag_rig_file(bag)
    if rig_file is not None:
        carry_rig(rig_file, output)
    return ImportSummary(
        output,
        len(frames),
        sum(len(f.objects) for f in frames),
        sum(len(b) for f in frames for b in f.boxes.values()),
        copied,
        tuple(sorted(replaced)),
    )


def format_import(summary: ImportSummary) -> str:
    return (
        f"wrote {summary.output}: {summary.frames} frames, {summary.objects} cuboids and {summary.boxes} "
        f"2D boxes on the truth topics, {summary.copied} messages copied from the bag"
    )
