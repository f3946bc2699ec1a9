"""Pre-labels, review items, events and fused frames as the messages review tools render.

Pure functions: the same ``PrelabelResult`` / ``Event`` / ``FusedFrame`` always gives the same message,
so a replayed bag carries byte-identical annotations. Carried types (``foxglove_msgs``, the project's
``Event``) are returned as the ``rosbags`` dataclasses that ``recording.serialize`` encodes; installed
types (``PointCloud2``) as rclpy messages.

Conventions every converter here shares:
- one Foxglove entity per tracked object, id ``track/<object_id>`` (the tracker's id, stable across
  frames); its metadata says class, confidence and where the label came from (``source`` machine/human,
  ``algorithm``, ``params_version``), so a labelling tool can tell machine labels from human ones;
- entities expire after ``lifetime_ns`` (an object the tracker stops reporting disappears) and, given
  the previous result, objects no longer present are deleted at once;
- one colour per class, the same in 3D, in RViz markers and on images;
- image annotations are stamped with the image message's ``header.stamp`` (Foxglove pairs them by exact
  stamp), which is *not* ``CameraView.exposure_stamp``/``Box2D.stamp`` (those add the clock offset).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmfusion_annotate.events.model import Event, Severity
from mmfusion_annotate.interfaces.cdr import new_message
from mmfusion_annotate.interfaces.msgtypes import EVENT
from mmfusion_annotate.msgs.pointcloud2 import encode, make_points
from mmfusion_annotate.msgs.rgb import pack_rgb
from mmfusion_annotate.msgs.time import make_header, split_ns
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
from mmfusion_annotate.types import Stamp

SCENE_UPDATE = "foxglove_msgs/msg/SceneUpdate"
IMAGE_ANNOTATIONS = "foxglove_msgs/msg/ImageAnnotations"

DEFAULT_LIFETIME_NS = 300_000_000
"""How long an entity stays without an update: three periods of a 10 Hz LiDAR (one missed sweep is no
flicker, a retired track is gone within 0.3 s)."""

CLASS_COLORS: dict[ObjectClass, tuple[float, float, float]] = {
    ObjectClass.CAR: (0.12, 0.47, 0.71),
    ObjectClass.TRUCK: (1.0, 0.50, 0.05),
    ObjectClass.BUS: (0.58, 0.40, 0.74),
    ObjectClass.PEDESTRIAN: (0.84, 0.15, 0.16),
    ObjectClass.CYCLIST: (0.17, 0.63, 0.17),
    ObjectClass.UNKNOWN: (0.50, 0.50, 0.50),
}
"""RGB in [0, 1] per class (matplotlib's tab10: distinguishable, also for most colour-blind viewers)."""
RADAR_COLOR = (0.85, 0.0, 0.85)
GREY = (128, 128, 128)
"""Colour of coloured-cloud points that no camera sees."""
CUBE_ALPHA = 0.35
TEXT_HEIGHT_M = 0.6
"""Height of 3D labels; they float this far above the cuboid's top."""
LABEL_FONT_PX = 14.0
"""Text size of image labels and of the (scale-invariant) 3D labels, in pixels."""
IMAGE_LINE_PX = 2.0
FOXGLOVE_PIXEL_OFFSET = 0.5
"""Box2D pixels follow OpenCV (pixel centres at integers); Foxglove's image origin is the top-left
corner of the top-left pixel, half a pixel further up and left."""
LINE_LOOP = 2  # foxglove_msgs/PointsAnnotation.LINE_LOOP
DELETE_MATCHING_ID = 0  # foxglove_msgs/SceneEntityDeletion.MATCHING_ID


# ---------------------------------------------------------------- shared pieces (also used by markers)
def rgba(rgb: tuple[float, float, float], alpha: float = 1.0) -> dict[str, float]:
    return {"r": rgb[0], "g": rgb[1], "b": rgb[2], "a": alpha}


def class_color(label: ObjectClass) -> tuple[float, float, float]:
    return CLASS_COLORS[label]


def class_color_rgb8(label: ObjectClass) -> tuple[int, int, int]:
    """The class colour as 8-bit RGB, for PNGs drawn with OpenCV (contact sheets, evaluation images)."""
    r, g, b = CLASS_COLORS[label]
    return round(255 * r), round(255 * g), round(255 * b)


def ros_time(stamp: Stamp) -> dict[str, int]:
    """``builtin_interfaces/Time`` (or ``Duration``) fields of a nanosecond stamp."""
    sec, nanosec = split_ns(stamp)
    return {"sec": sec, "nanosec": nanosec}


def yaw_pose(center: Iterable[float], yaw: float = 0.0) -> Any:
    """``geometry_msgs/Pose`` at ``center``, rotated by ``yaw`` about z."""
    from geometry_msgs.msg import Point, Pose, Quaternion

    x, y, z = (float(v) for v in center)
    half = 0.5 * float(yaw)
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(z=math.sin(half), w=math.cos(half)))


def vector3(values: Iterable[float]) -> Any:
    from geometry_msgs.msg import Vector3

    x, y, z = (float(v) for v in values)
    return Vector3(x=x, y=y, z=z)


def label_text(label: ObjectClass, object_id: int, confidence: float) -> str:
    """``car #12 0.87``; camera-only detections (id -1) read ``car (camera) 0.55``."""
    who = f"#{object_id}" if object_id >= 0 else "(camera)"
    return f"{label.value} {who} {confidence:.2f}"


def text_anchor(cuboid: Cuboid) -> tuple[float, float, float]:
    """Where an object's 3D label floats: above the middle of the cuboid's top face."""
    x, y, z = cuboid.center
    return x, y, z + cuboid.size[2] / 2 + TEXT_HEIGHT_M


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _provenance_pairs(provenance: Provenance) -> list[tuple[str, str]]:
    return [
        ("confidence", _fmt(provenance.confidence)),
        ("source", provenance.source),
        ("algorithm", provenance.algorithm),
        ("params_version", provenance.params_version),
    ]


def _metadata(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


def _entity(entity_id: str, stamp_ns: Stamp, frame_id: str, lifetime_ns: int, metadata, **primitives):
    return {
        "timestamp": ros_time(stamp_ns),
        "frame_id": frame_id,
        "id": entity_id,
        "lifetime": ros_time(lifetime_ns),
        "frame_locked": False,  # a snapshot: stays where the object was at its stamp
        "metadata": _metadata(metadata),
        **primitives,
    }


def _text(position: tuple[float, float, float], text: str, color=(1.0, 1.0, 1.0)) -> dict[str, Any]:
    return {
        "pose": yaw_pose(position),
        "billboard": True,
        "font_size": LABEL_FONT_PX,
        "scale_invariant": True,  # readable at any zoom: font_size in pixels
        "color": rgba(color),
        "text": text,
    }


# ---------------------------------------------------------------- 3D pre-labels
def cuboid_entity_id(object_id: int) -> str:
    return f"track/{object_id}"


def radar_entity_id(candidate: RadarCandidate) -> str:
    return f"radar/{candidate.radar}/{candidate.candidate_id}"


def _cuboid_metadata(cuboid: Cuboid, track: Track | None) -> list[tuple[str, str]]:
    pairs = [
        ("kind", "cuboid"),
        ("track_id", str(cuboid.object_id)),
        ("class", cuboid.label.value),
        *_provenance_pairs(cuboid.provenance),
        ("stamp_ns", str(cuboid.stamp)),
        ("num_points", str(cuboid.num_points)),
        ("velocity_x", _fmt(cuboid.velocity[0])),
        ("velocity_y", _fmt(cuboid.velocity[1])),
        ("radar_hits", str(cuboid.radar_hits)),
    ]
    if cuboid.radial_velocity is not None:
        pairs.append(("radial_velocity", _fmt(cuboid.radial_velocity)))
    if track is not None:
        pairs += [
            ("track_confirmed", str(track.confirmed).lower()),
            ("track_age", str(track.age)),
            ("track_hits", str(track.hits)),
            ("track_algorithm", track.provenance.algorithm),
        ]
    return pairs


def _cuboid_entity(cuboid: Cuboid, track: Track | None, stamp_ns: Stamp, frame_id: str, lifetime_ns: int):
    color = class_color(cuboid.label)
    return _entity(
        cuboid_entity_id(cuboid.object_id), stamp_ns, frame_id, lifetime_ns, _cuboid_metadata(cuboid, track),
        cubes=[{"pose": yaw_pose(cuboid.center, cuboid.yaw), "size": vector3(cuboid.size),
                "color": rgba(color, CUBE_ALPHA)}],
        texts=[_text(text_anchor(cuboid), label_text(cuboid.label, cuboid.object_id,
                                                     cuboid.provenance.confidence))],
    )  # fmt: skip


def _radar_entity(candidate: RadarCandidate, stamp_ns: Stamp, frame_id: str, lifetime_ns: int):
    pairs = [
        ("kind", "radar_candidate"),
        ("radar", candidate.radar),
        *_provenance_pairs(candidate.provenance),
        ("stamp_ns", str(candidate.stamp)),
        ("range_rate", _fmt(candidate.range_rate)),
        ("rcs", _fmt(candidate.rcs)),
        ("num_detections", str(candidate.num_detections)),
    ]
    x, y, z = candidate.position
    return _entity(
        radar_entity_id(candidate), stamp_ns, frame_id, lifetime_ns, pairs,
        spheres=[{"pose": yaw_pose(candidate.position), "size": vector3((0.8, 0.8, 0.8)),
                  "color": rgba(RADAR_COLOR, 0.6)}],
        texts=[_text((x, y, z + 1.0), f"radar {candidate.range_rate:+.1f} m/s", RADAR_COLOR)],
    )  # fmt: skip


def _scene_ids(result: PrelabelResult) -> list[str]:
    return [cuboid_entity_id(c.object_id) for c in result.cuboids] + [
        radar_entity_id(r) for r in result.radar_candidates
    ]


def _deletions(current: list[str], previous: list[str], stamp_ns: Stamp) -> list[dict[str, Any]]:
    gone = [entity_id for entity_id in previous if entity_id not in set(current)]
    return [{"timestamp": ros_time(stamp_ns), "type": DELETE_MATCHING_ID, "id": i} for i in gone]


def scene_update(
    result: PrelabelResult,
    stamp_ns: Stamp,
    frame_id: str = "base_link",
    *,
    previous: PrelabelResult | None = None,
    lifetime_ns: int = DEFAULT_LIFETIME_NS,
) -> Any:
    """``foxglove_msgs/SceneUpdate`` of one frame's cuboids (joined with their tracks) and radar candidates.

    ``stamp_ns`` is the fused frame's stamp (the cuboids are in ``frame_id`` at that time). With
    ``previous`` (the last result published on the same topic), entities it had and this one lacks are
    deleted at ``stamp_ns`` instead of lingering for ``lifetime_ns``.
    """
    tracks = {t.object_id: t for t in result.tracks}
    entities = [_cuboid_entity(c, tracks.get(c.object_id), stamp_ns, frame_id, lifetime_ns)
                for c in result.cuboids]  # fmt: skip
    entities += [_radar_entity(r, stamp_ns, frame_id, lifetime_ns) for r in result.radar_candidates]
    deletions = _deletions(_scene_ids(result), _scene_ids(previous), stamp_ns) if previous else []
    return new_message(SCENE_UPDATE, deletions=deletions, entities=entities)


# ---------------------------------------------------------------- review items
REVIEW_INFLATE_M = 0.3
"""Review outlines are drawn this much larger than the cuboid so both stay visible."""


def review_entity_ids(items: Iterable[ReviewItem]) -> list[str]:
    """``review/<reason>/<ids or none>/<camera or all>``, ``#n`` appended to repeats within a frame."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        ids = "-".join(str(i) for i in item.object_ids) or "none"
        key = f"review/{item.reason}/{ids}/{item.camera or 'all'}"
        count = seen.get(key, 0)
        seen[key] = count + 1
        out.append(key if count == 0 else f"{key}#{count}")
    return out


def priority_color(priority: float) -> tuple[float, float, float]:
    """Yellow (low) to red (high priority)."""
    return 1.0, 1.0 - float(np.clip(priority, 0.0, 1.0)), 0.0


def _review_entity(
    entity_id: str,
    item: ReviewItem,
    cuboids: Mapping[int, Cuboid],
    stamp_ns: Stamp,
    frame_id: str,
    lifetime_ns: int,
):
    pairs = [
        ("kind", "review"),
        ("reason", item.reason),
        ("modalities", ",".join(m.value for m in item.modalities)),
        ("priority", _fmt(item.priority)),
        ("object_ids", ",".join(str(i) for i in item.object_ids)),
        ("camera", item.camera or ""),
        ("detail", item.detail),
        ("stamp_ns", str(item.stamp)),
        ("severity", _fmt(item.severity)),
        ("confidence", _fmt(item.confidence)),
        *((f"evidence.{name}", _fmt(value)) for name, value in item.evidence),
    ]
    color = priority_color(item.priority)
    located = [cuboids[i] for i in item.object_ids if i in cuboids]
    cubes = [{"pose": yaw_pose(c.center, c.yaw), "size": vector3(s + REVIEW_INFLATE_M for s in c.size),
              "color": rgba(color, 0.25)} for c in located]  # fmt: skip
    texts = []
    if located:
        x, y, z = text_anchor(located[0])
        texts.append(_text((x, y, z + TEXT_HEIGHT_M), f"{item.reason} ({item.priority:.2f})", color))
    return _entity(entity_id, stamp_ns, frame_id, lifetime_ns, pairs, cubes=cubes, texts=texts)


def review_update(
    result: PrelabelResult,
    stamp_ns: Stamp,
    frame_id: str = "base_link",
    *,
    lifetime_ns: int = DEFAULT_LIFETIME_NS,
) -> Any:
    """``foxglove_msgs/SceneUpdate`` with one entity per review item, in priority order.

    Metadata carries ``reason``, ``modalities``, ``priority``, ``object_ids``, ``camera``, ``detail``,
    ``severity``, ``confidence`` and one ``evidence.<name>`` per value compared (``ReviewItem``): a
    labelling tool reads the queue from there. Items about objects of this frame also draw an inflated
    outline around those cuboids, coloured by priority; items without an object (a radar target with no
    LiDAR support, a camera-only detection) carry metadata only. Review items are per frame, so they
    expire with ``lifetime_ns`` rather than being deleted.
    """
    cuboids = {c.object_id: c for c in result.cuboids}
    items = result.review_items
    entities = [_review_entity(i, item, cuboids, stamp_ns, frame_id, lifetime_ns)
                for i, item in zip(review_entity_ids(items), items, strict=True)]  # fmt: skip
    return new_message(SCENE_UPDATE, entities=entities)


_REVIEW_FIELDS = frozenset({"kind", "reason", "modalities", "priority", "object_ids", "camera", "detail",
                            "stamp_ns", "severity", "confidence"})  # fmt: skip


@dataclass(frozen=True)
class ReviewItemRecord:
    """One review item read back from a ``review_update`` entity: every field its metadata carries.

    Bags written by other tools may lack fields, so missing ones get defaults (``read_review_items``);
    ``evidence`` keeps the ``evidence.<name>`` values and any field this reader does not know, as text.
    """

    reason: str
    stamp: Stamp
    priority: float
    modalities: tuple[str, ...]
    object_ids: tuple[int, ...]
    camera: str
    severity: float | None
    confidence: float | None
    detail: str
    evidence: dict[str, str]

    def numeric_evidence(self) -> dict[str, float]:
        """The evidence values that are numbers (the values compared, the thresholds)."""
        return {name: value for name, text in self.evidence.items() if (value := _number(text)) is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the per-file review record keeps it (``recording.label_records``)."""
        return {
            "stamp_ns": self.stamp,
            "reason": self.reason,
            "modalities": ",".join(self.modalities),
            "priority": self.priority,
            "object_ids": list(self.object_ids),
            "camera": self.camera or None,
            "detail": self.detail or None,
            "severity": self.severity,
            "confidence": self.confidence,
            "evidence": self.numeric_evidence(),
        }


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _severity(text: str | None) -> float | None:
    """A severity in [0, 1]: a number, or an event severity name (``info`` .. ``severe``)."""
    if (value := _number(text)) is not None:
        return value
    try:
        return (Severity(str(text).lower()).rank + 1) / len(Severity)
    except ValueError:
        return None


def item_priority(meta: Mapping[str, str]) -> float:
    """The item's ``priority`` field, else severity x confidence x share of modalities disagreeing (bags
    written before items had a priority, or by other tools)."""
    if (given := _number(meta.get("priority"))) is not None:
        return given
    severity = _severity(meta.get("severity"))
    confidence = _number(meta.get("confidence"))
    modalities = [m for m in meta.get("modalities", "").split(",") if m]
    return (
        (1.0 if severity is None else severity)
        * (1.0 if confidence is None else confidence)
        * len(modalities)
        / len(Modality)
    )


def review_item_record(meta: Mapping[str, str], log_time_ns: Stamp) -> ReviewItemRecord:
    """The review item of one entity's metadata (``_review_entity``); ``log_time_ns`` stands in for a
    missing ``stamp_ns``."""
    stamp = meta.get("stamp_ns", "")
    ids = meta.get("object_ids", "").split(",")
    return ReviewItemRecord(
        reason=meta.get("reason") or "unknown",
        stamp=int(stamp) if stamp.isdigit() else log_time_ns,  # int: a float loses nanoseconds
        priority=item_priority(meta),
        modalities=tuple(m for m in meta.get("modalities", "").split(",") if m),
        object_ids=tuple(int(i) for i in ids if i.strip().lstrip("-").isdigit()),
        camera=meta.get("camera", ""),
        severity=_severity(meta.get("severity")),
        confidence=_number(meta.get("confidence")),
        detail=meta.get("detail", ""),
        evidence={k.removeprefix("evidence."): v for k, v in meta.items()
                  if k not in _REVIEW_FIELDS and v != ""},  # fmt: skip
    )


def read_review_items(update: Any, log_time_ns: Stamp) -> list[ReviewItemRecord]:
    """The review items of one decoded ``review_update`` SceneUpdate: the inverse of ``review_update``.
    Entities without a ``kind`` count as review items (other tools' bags); other kinds are skipped."""
    return [
        review_item_record(meta, log_time_ns)
        for meta in ({kv.key: kv.value for kv in entity.metadata} for entity in update.entities)
        if meta.get("kind", "review") == "review"
    ]


# ---------------------------------------------------------------- 2D boxes
def _box_annotations(box: Box2D, stamp: dict[str, int], reasons: list[str]) -> tuple[dict, list[dict]]:
    x1, y1, x2, y2 = (v + FOXGLOVE_PIXEL_OFFSET for v in box.box)
    color = class_color(box.label)
    outline = {
        "timestamp": stamp,
        "type": LINE_LOOP,
        "points": [{"x": x1, "y": y1}, {"x": x2, "y": y1}, {"x": x2, "y": y2}, {"x": x1, "y": y2}],
        "outline_color": rgba(color),
        "fill_color": rgba(color, 0.0),
        "thickness": IMAGE_LINE_PX,
    }
    top = max(y1, LABEL_FONT_PX)  # the text's origin is its bottom-left corner: keep it in the image
    lines = [label_text(box.label, box.object_id, box.provenance.confidence), *reasons]
    texts = [
        {
            "timestamp": stamp,
            "position": {"x": x1, "y": top - (len(lines) - 1 - k) * (LABEL_FONT_PX + 2)},
            "text": line,
            "font_size": LABEL_FONT_PX,
            "text_color": rgba((1.0, 1.0, 1.0)),
            "background_color": rgba(color if k == 0 else priority_color(1.0), 0.8),
        }
        for k, line in enumerate(lines)
    ]
    return outline, texts


def image_annotations(result: PrelabelResult, camera: str, image_stamp_ns: Stamp) -> Any:
    """``foxglove_msgs/ImageAnnotations`` of ``camera``'s 2D boxes, every timestamp = ``image_stamp_ns``.

    ``image_stamp_ns`` must be the ``header.stamp`` of the image message the boxes are drawn on (the
    annotator's ``AnnotatedFrame.header_stamps[camera]``, i.e. the synced ``SensorSample.stamp``), not
    the fused frame's ``exposure_stamp``, which adds the camera's clock offset: Foxglove shows
    annotations only on the image with exactly the same stamp. Each box is a LINE_LOOP of its 4 corners in
    its class colour with a label (class, track id, confidence) above it; review reasons about that
    object in this camera are listed in red above the label.
    """
    stamp = ros_time(image_stamp_ns)
    reasons: dict[int, list[str]] = {}
    for item in result.review_items:
        if item.camera == camera:
            for object_id in item.object_ids:
                reasons.setdefault(object_id, []).append(item.reason)
    points, texts = [], []
    for box in result.boxes2d:
        if box.camera != camera:
            continue
        outline, labels = _box_annotations(box, stamp, reasons.get(box.object_id, []))
        points.append(outline)
        texts += labels
    return new_message(IMAGE_ANNOTATIONS, circles=[], points=points, texts=texts)


# ---------------------------------------------------------------- events and the coloured cloud
def event_message(event: Event, frame_id: str = "base_link") -> Any:
    """The carried ``mmfusion_annotate/msg/Event`` of ``event``; ``header.stamp`` is the peak time.

    ``category`` and ``detected`` are passed too: the serializer keeps only fields the carried definition
    declares, so they travel as soon as Event.msg gains them (it does not yet).
    """
    names = [name for name, _ in event.evidence]
    return new_message(
        EVENT,
        header=make_header(frame_id, event.peak),
        id=event.id,
        type=event.type,
        category=event.category.value,
        severity=event.severity.value,
        start=ros_time(event.start),
        peak=ros_time(event.peak),
        end=ros_time(event.end),
        detected=ros_time(event.detected),
        track_ids=list(event.object_ids),
        sensors=[event.sensor] if event.sensor else [],
        evidence_names=names,
        evidence_values=[float(value) for _, value in event.evidence],
        rule=event.rule,
        rule_version=event.rule_version,
    )


def colored_cloud(frame: Any, grey: tuple[int, int, int] = GREY) -> Any:
    """``sensor_msgs/PointCloud2`` (x, y, z, rgb) of a fused frame in the base frame at the sweep stamp.

    Points are the deskewed sweep (where each point was at ``frame.stamp``, the cloud's stamp); each takes
    the colour of the nearest camera that sees it (``FusedFrame.colored_points``), ``grey`` if none does.
    """
    sweep = frame.sweep
    # packed (``pack_rgb``) before they are spread over the sweep: a 4-byte fill and scatter, where an
    # (N, 3) one copies 3-byte rows one at a time
    rgb = np.full(len(sweep), pack_rgb(np.asarray(grey, np.uint8)).view(np.uint32))
    index, colors = frame.colored_points()
    rgb[index] = pack_rgb(colors).view(np.uint32)
    points = make_points(sweep.xyz_deskewed, rgb=rgb.view(np.float32))
    return encode(points, frame.rig.base_frame, frame.stamp)
