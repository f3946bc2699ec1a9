"""A bag's pre-labels as one ASAM OpenLABEL 1.0 document (and the layout ``openlabel_import`` reads back).

Layout (conventions in ``export.conventions``):
- ``streams``: one per camera (``intrinsics_pinhole``: K as a 3x4 camera matrix, the CameraInfo
  distortion coefficients; other models as ``intrinsics_custom``) and per LiDAR, ``uri`` = the topic;
- ``coordinate_systems``: the ``/tf_static`` tree; a sensor's frame is named after its stream (the OpenLABEL
  habit), its TF name kept as ``frame_id``; ``pose_wrt_parent`` is the child's pose in the parent
  (``X_parent = M X_child``, a row-major 4x4), as TF gives it;
- ``frames``: one per fused frame, key = index; ``frame_properties`` hold the stamp (``timestamp`` in s,
  ``timestamp_ns`` exact) and per stream the stamp of its message, the exposure (stamp + rig clock
  offset) and where the data is (``uri``: a written file or ``topic?stamp_ns=...``);
- ``objects``: one per track (uid = the track id), ``type`` = the class from ontology ``"0"``; per frame
  a ``cuboid`` named ``cuboid`` in the base frame and a ``bbox`` per camera named after the camera, with
  confidence, provenance and the frame's review reasons about it as attributes;
- ``actions`` (each tagged event over its frames), ``events`` (its peak), ``tags`` (one per event type,
  listing its actions), types from ontology ``"1"``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from mmfusion_annotate import __version__
from mmfusion_annotate.export.bag_labels import BagLabels, FrameObject, LabelledFrame
from mmfusion_annotate.export.conventions import bbox_val, cuboid_val
from mmfusion_annotate.prelabel.model import ObjectClass
from mmfusion_annotate.types import NS_PER_S, Stamp

CLASS_ONTOLOGY = "0"
EVENT_ONTOLOGY = "1"
CLASS_ONTOLOGY_URI = "urn:mmfusion_annotate:object_classes"
EVENT_ONTOLOGY_URI = "urn:mmfusion_annotate:event_types"
CUBOID_NAME = "cuboid"
DataFiles = dict[tuple[str, int], str]
"""(stream name, frame index) -> file name relative to the JSON, for ``--with-data`` exports."""


def _intervals(indices: list[int]) -> list[dict[str, int]]:
    runs: list[dict[str, int]] = []
    for i in sorted(indices):
        if runs and runs[-1]["frame_end"] == i - 1:
            runs[-1]["frame_end"] = i
        else:
            runs.append({"frame_start": i, "frame_end": i})
    return runs


def sensor_names(labels: BagLabels) -> dict[str, str]:
    """TF frame -> coordinate system name: a camera's, LiDAR's or radar's own frame takes its (stream's)
    name; the base frame keeps its own."""
    names: dict[str, str] = {}
    rig = labels.rig
    for sensor in [*rig.cameras(), *rig.lidars(), *rig.radars()]:
        if sensor.frame_id != rig.base_frame:
            names.setdefault(sensor.frame_id, sensor.name)
    return names


def _coordinate_systems(labels: BagLabels) -> dict[str, Any]:
    names = sensor_names(labels)
    base = labels.rig.base_frame
    frames = {base} | set(labels.transforms) | {parent for parent, _ in labels.transforms.values()}
    systems: dict[str, Any] = {}
    for frame in sorted(frames, key=lambda f: (f != base, f)):
        name = names.get(frame, frame)
        system: dict[str, Any] = {
            "type": "sensor_cs" if frame in names else "local",
            "parent": "",
            "children": [],
            "frame_id": frame,
        }
        if frame in labels.transforms:
            parent, pose = labels.transforms[frame]
            system["parent"] = names.get(parent, parent)
            system["pose_wrt_parent"] = {"matrix4x4": [float(v) for v in np.asarray(pose).reshape(-1)]}
        systems[name] = system
    for name, system in systems.items():
        if system["parent"] in systems:
            systems[system["parent"]]["children"].append(name)
    return systems


def _streams(labels: BagLabels) -> dict[str, Any]:
    streams: dict[str, Any] = {}
    for sensor in labels.rig.cameras():
        calibration = labels.cameras.get(sensor.name)
        if calibration is None:
            continue
        K = np.hstack([calibration.K, np.zeros((3, 1))])
        d = list(calibration.D)
        if calibration.distortion_model in ("plumb_bob", "rational_polynomial") and len(d) <= 14:
            intrinsics = {
                "intrinsics_pinhole": {
                    "camera_matrix": [float(v) for v in K.reshape(-1)],
                    "distortion_coeffs": d + [0.0] * (5 - len(d)),
                    "width_px": calibration.width,
                    "height_px": calibration.height,
                }
            }
        else:
            intrinsics = {
                "intrinsics_custom": {
                    "model": calibration.distortion_model,
                    "camera_matrix": [float(v) for v in K.reshape(-1)],
                    "distortion_coeffs": d,
                    "width_px": calibration.width,
                    "height_px": calibration.height,
                }
            }
        streams[sensor.name] = {
            "type": "camera",
            "uri": sensor.topic,
            "description": f"{labels.topics.get(sensor.topic, '')} in {calibration.frame_id}",
            "stream_properties": intrinsics,
        }
    for sensor in labels.rig.lidars():
        streams[sensor.name] = {
            "type": "lidar",
            "uri": sensor.topic,
            "description": f"{labels.topics.get(sensor.topic, '')} in {sensor.frame_id}",
        }
    return streams


def _stream_stamp(labels: BagLabels, name: str, stamp: Stamp, index: int, data: DataFiles | None) -> dict:
    sensor = labels.rig.sensor(name)
    uri = (data or {}).get((name, index), f"{sensor.topic}?stamp_ns={stamp}")
    return {
        "uri": uri,
        "stream_properties": {
            "sync": {"timestamp": stamp / NS_PER_S},
            "stamp_ns": stamp,
            "exposure_stamp_ns": stamp + sensor.time_offset_ns,
            "topic": sensor.topic,
        },
    }


def _frame(labels: BagLabels, index: int, frame: LabelledFrame, data: DataFiles | None) -> dict[str, Any]:
    streams = {name: _stream_stamp(labels, name, stamp, index, data) for name, stamp in frame.lidars.items()}
    streams |= {
        name: _stream_stamp(labels, name, view.stamp, index, data) for name, view in frame.cameras.items()
    }
    reasons: dict[str, list[str]] = {}
    for item in frame.review:
        for oid in item.object_ids:
            reasons.setdefault(str(oid), []).append(item.reason)
    names = sensor_names(labels)
    objects = {
        str(o.box.object_id): {
            "object_data": _object_data(
                o, frame, reasons.get(str(o.box.object_id), []), names.get(o.frame_id, o.frame_id)
            )
        }
        for o in frame.objects
    }
    properties = {
        "timestamp": frame.stamp / NS_PER_S,
        "timestamp_ns": frame.stamp,
        "streams": streams,
        "review_items": [item.to_dict() for item in frame.review],
    }
    return {"frame_properties": properties, "objects": objects}


def _object_data(obj: FrameObject, frame: LabelledFrame, reasons: list[str], system: str) -> dict[str, Any]:
    b, meta = obj.box, obj.meta
    nums = [{"name": "confidence", "val": b.confidence}]
    nums += [
        {"name": k, "val": float(meta[k])}
        for k in ("num_points", "radar_hits", "radial_velocity", "track_age", "track_hits")
        if k in meta
    ]
    texts = [{"name": "class", "val": b.label.value}]  # this frame's; the object's type is the commonest
    texts += [
        {"name": k, "val": meta[k]}
        for k in ("source", "algorithm", "params_version", "track_algorithm")
        if k in meta
    ]
    attributes: dict[str, Any] = {
        "num": nums,
        "text": texts,
        "vec": [{"name": "velocity", "val": [float(v) for v in b.velocity]}],
        "boolean": [{"name": "track_confirmed", "val": meta.get("track_confirmed") == "true"}],
    }
    if reasons:
        attributes["vec"].append({"name": "review_reasons", "val": reasons})
    data: dict[str, Any] = {
        "cuboid": [
            {
                "name": CUBOID_NAME,
                "val": cuboid_val(b.center, b.size, b.yaw),
                "coordinate_system": system,
                "attributes": attributes,
            }
        ]
    }
    boxes = [
        {
            "name": camera,
            "val": bbox_val(view.boxes[b.object_id]),
            "coordinate_system": camera,
            "attributes": {"num": [{"name": "confidence", "val": b.confidence}]},
        }
        for camera, view in frame.cameras.items()
        if b.object_id in view.boxes
    ]
    if boxes:
        data["bbox"] = boxes
    return data


def _frame_at(stamps: list[Stamp], t: int, *, last: bool) -> int:
    i = int(np.searchsorted(stamps, t, side="right" if last else "left"))
    return min(max(i - 1 if last else i, 0), len(stamps) - 1)


def _events(labels: BagLabels) -> tuple[dict, dict, dict]:
    stamps = [f.stamp for f in labels.frames]
    actions: dict[str, Any] = {}
    events: dict[str, Any] = {}
    tags_by_type: dict[str, list[str]] = {}
    for uid, event in enumerate(labels.events):
        first = _frame_at(stamps, int(event["start_ns"]), last=False)
        last = max(first, _frame_at(stamps, int(event["end_ns"]), last=True))
        peak = _frame_at(stamps, int(event.get("peak_ns", event["start_ns"])), last=False)
        texts = [
            {"name": k, "val": str(event[k])}
            for k in ("id", "severity", "category", "rule", "rule_version", "start_ns", "end_ns")
            if k in event
        ]
        ids = [str(i) for i in event.get("track_ids", event.get("object_ids", []))]
        data: dict[str, Any] = {"text": texts}
        if ids:
            data["vec"] = [{"name": "objects", "val": ids}]
        actions[str(uid)] = {
            "name": str(event["id"]),
            "type": str(event["type"]),
            "ontology_uid": EVENT_ONTOLOGY,
            "frame_intervals": [{"frame_start": first, "frame_end": last}],
            "action_data": data,
        }
        events[str(uid)] = {
            "name": f"{event['id']} peak",
            "type": str(event["type"]),
            "ontology_uid": EVENT_ONTOLOGY,
            "frame_intervals": [{"frame_start": peak, "frame_end": peak}],
        }
        tags_by_type.setdefault(str(event["type"]), []).append(str(uid))
    tags = {
        str(i): {
            "type": t,
            "ontology_uid": EVENT_ONTOLOGY,
            "tag_data": {"vec": [{"name": "actions", "val": uids}]},
        }
        for i, (t, uids) in enumerate(sorted(tags_by_type.items()))
    }
    return actions, events, tags


def to_openlabel(labels: BagLabels, data: DataFiles | None = None) -> dict[str, Any]:
    """The OpenLABEL document of ``labels`` (see the module docstring for the layout)."""
    frames = {str(i): _frame(labels, i, f, data) for i, f in enumerate(labels.frames)}
    seen: dict[int, list[int]] = {}
    classes: dict[int, Counter] = {}
    frame_ids: dict[int, str] = {}
    for i, frame in enumerate(labels.frames):
        for o in frame.objects:
            seen.setdefault(o.box.object_id, []).append(i)
            classes.setdefault(o.box.object_id, Counter())[o.box.label.value] += 1
            frame_ids[o.box.object_id] = sensor_names(labels).get(o.frame_id, o.frame_id)
    objects = {}
    for oid in sorted(seen):
        cls = classes[oid].most_common(1)[0][0]
        objects[str(oid)] = {
            "name": f"{cls} #{oid}",
            "type": cls,
            "ontology_uid": CLASS_ONTOLOGY,
            "coordinate_system": frame_ids[oid],
            "frame_intervals": _intervals(seen[oid]),
        }
    actions, events, tags = _events(labels)
    first, last = labels.frames[0].stamp, labels.frames[-1].stamp
    document: dict[str, Any] = {
        "metadata": {
            "schema_version": "1.0.0",
            "name": labels.bag.name,
            "tagged_file": str(labels.bag),
            "annotator": f"mmfusion_annotate {__version__} pre-labeller (machine labels)",
            "comment": f"{len(frames)} fused frames, {first} .. {last} ns; units m, s, px; see the README",
            "time_window_ns": [first, last],
        },
        "ontologies": {
            CLASS_ONTOLOGY: {
                "uri": CLASS_ONTOLOGY_URI,
                "boundary_list": [c.value for c in ObjectClass],
                "boundary_mode": "include",
            },
            EVENT_ONTOLOGY: {"uri": EVENT_ONTOLOGY_URI},
        },
        "coordinate_systems": _coordinate_systems(labels),
        "streams": _streams(labels),
        "frame_intervals": [{"frame_start": 0, "frame_end": len(frames) - 1}],
        "frames": frames,
        "objects": objects,
    }
    if actions:
        document |= {"actions": actions, "events": events, "tags": tags}
    return {"openlabel": document}
