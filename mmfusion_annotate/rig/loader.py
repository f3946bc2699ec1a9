"""Read and write rig YAML files; every problem becomes one RigError naming the file, key and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from mmfusion_annotate.errors import RigError
from mmfusion_annotate.rig.camera_model import CameraModel
from mmfusion_annotate.rig.frames import FrameEdge, FrameTree
from mmfusion_annotate.rig.rig import Rig, Sensor, default_info_topic
from mmfusion_annotate.rig.schema import LidarSpec, RigFile, SensorEntry
from mmfusion_annotate.textfile import parse_yaml, read_text_file, validate_model
from mmfusion_annotate.types import seconds_to_ns


def load_rig(path: str | Path) -> Rig:
    """Load and validate a rig file."""
    path = Path(path)
    source = str(path)
    text = read_text_file(path, "rig file", RigError)
    data = parse_yaml(text, source, RigError)
    node = yaml.compose(text, Loader=yaml.SafeLoader)  # parsed above: only for the line of a key
    try:
        return rig_from_dict(data, source=source)
    except RigError as exc:
        if exc.line is not None or exc.key is None:
            raise
        raise RigError(exc.reason, file=source, key=exc.key, line=_line_of(node, exc.key, data)) from None


def rig_from_dict(data: Any, source: str | None = None) -> Rig:
    """Validate a parsed rig document (what ``yaml.safe_load`` returns) and build the Rig."""
    if not isinstance(data, dict):
        raise RigError("a rig file must be a mapping with 'name' and 'sensors'", file=source)
    spec = validate_model(RigFile, data, source or "<rig>", RigError, key=lambda loc: _key(loc, data))
    return _build(spec, source)


def _build(spec: RigFile, source: str | None) -> Rig:
    names: dict[str, int] = {}
    topics: dict[str, str] = {}
    edges: dict[str, FrameEdge] = {}
    for i, frame in enumerate(spec.frames):
        keys = (f"frames[{i}].name", f"frames[{i}].extrinsic.parent")
        _add_edge(edges, frame.name, frame.extrinsic.parent, frame.extrinsic.matrix(), keys, source)
    sensors: dict[str, Sensor] = {}
    for i, entry in enumerate(spec.sensors):
        where = f"sensors[{entry.name}]"
        if entry.name in names:
            raise RigError(
                f"duplicate sensor name '{entry.name}' (also sensors[{names[entry.name]}])",
                file=source,
                key=f"sensors[{i}].name",
            )
        names[entry.name] = i
        sensor = _sensor(entry, spec.base_frame, where, source)
        for topic, key in ((sensor.topic, "topic"), (sensor.info_topic, "camera.info_topic")):
            if topic is None:
                continue
            if topic in topics:
                raise RigError(
                    f"duplicate topic '{topic}' (also used by {topics[topic]})",
                    file=source,
                    key=f"{where}.{key}",
                )
            topics[topic] = where
        if entry.frame_id != spec.base_frame:
            _add_edge(
                edges,
                entry.frame_id,
                sensor.parent_frame,
                sensor.T_parent_sensor,
                (f"{where}.frame_id", f"{where}.extrinsic.parent"),
                source,
            )
        elif entry.extrinsic is not None:
            raise RigError(
                f"frame_id is the base frame '{spec.base_frame}', so it cannot have an extrinsic",
                file=source,
                key=f"{where}.extrinsic",
            )
        sensors[entry.name] = sensor
    return Rig(name=spec.name, sensors=sensors, tree=FrameTree(spec.base_frame, edges, source), source=source)


def _add_edge(
    edges: dict[str, FrameEdge],
    child: str,
    parent: str,
    T: np.ndarray,
    keys: tuple[str, str],
    source: str | None,
) -> None:
    """Register a frame; a frame shared by two sensors must be placed identically.

    ``keys``: where the frame is named (for a clash) and where its parent is given (for loops and islands).
    """
    name_key, parent_key = keys
    known = edges.get(child)
    if known is not None and (known.parent != parent or not np.allclose(known.T, T, atol=1e-9)):
        raise RigError(
            f"frame '{child}' is already placed differently at {known.key}", file=source, key=name_key
        )
    if child == parent:
        raise RigError(f"frame '{child}' cannot be its own parent", file=source, key=parent_key)
    edges.setdefault(child, FrameEdge(parent, T, parent_key))


def _sensor(entry: SensorEntry, base_frame: str, where: str, source: str | None) -> Sensor:
    offset = (
        entry.time_offset_ns
        if entry.time_offset_ns is not None
        else seconds_to_ns(entry.time_offset_s or 0.0)
    )
    extrinsic = entry.extrinsic
    camera = None
    if entry.camera is not None:
        block = entry.camera
        try:
            camera = CameraModel(
                width=block.width,
                height=block.height,
                K=block.K,
                D=block.D,
                distortion_model=block.distortion_model,
                R=np.eye(3) if block.R is None else block.R,
                P=block.P,
                max_fov_deg=block.max_fov_deg,
            )
        except RigError as exc:
            raise RigError(exc.reason, file=source, key=f"{where}.camera.{exc.key}") from None
    return Sensor(
        name=entry.name,
        kind=entry.kind,
        topic=entry.topic,
        frame_id=entry.frame_id,
        rate_hz=entry.rate_hz,
        optional=entry.optional,
        time_offset_ns=offset,
        rate_tolerance=entry.rate_tolerance,
        parent_frame=extrinsic.parent if extrinsic else base_frame,
        T_parent_sensor=extrinsic.matrix() if extrinsic else np.eye(4),
        camera=camera,
        info_topic=(entry.camera.info_topic or default_info_topic(entry.topic)) if entry.camera else None,
        compressed=bool(entry.camera and entry.camera.compressed),
        lidar=entry.lidar,
        radar=entry.radar,
    )


def _key(loc: tuple[Any, ...], data: Any) -> str:
    """Pydantic location -> ``sensors[cam_front].camera.K`` (sensor names instead of indexes)."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            name = (
                node[item].get("name")
                if isinstance(node, list) and item < len(node) and isinstance(node[item], dict)
                else None
            )
            parts[-1] += f"[{name}]" if isinstance(name, str) and name else f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _line_of(node: yaml.Node | None, key: str, data: Any) -> int | None:
    """1-based line of the deepest YAML node that ``key`` (as made by ``_key``) reaches."""
    line = None
    for part in key.split("."):
        name, _, index = part.partition("[")
        if not isinstance(node, yaml.MappingNode):
            break
        matches = [(k, v) for k, v in node.value if k.value == name]
        if not matches:
            break
        key_node, node = matches[0]
        line = key_node.start_mark.line + 1
        if index and isinstance(node, yaml.SequenceNode):
            index = index.rstrip("]")
            items = node.value
            chosen = None
            if index.isdigit() and int(index) < len(items):
                chosen = items[int(index)]
            else:
                for item in items:
                    if isinstance(item, yaml.MappingNode) and any(
                        k.value == "name" and getattr(v, "value", None) == index for k, v in item.value
                    ):
                        chosen = item
                        break
            if chosen is None:
                break
            node = chosen
            line = node.start_mark.line + 1
    return line


def rig_to_dict(rig: Rig) -> dict[str, Any]:
    """The rig as a YAML-ready document that ``rig_from_dict`` reads back to an equal rig."""
    frames = []
    sensor_frames = {s.frame_id for s in rig.sensors.values()}
    for frame in rig.frames():
        parent = rig.tree.parent(frame)
        if parent is not None and frame not in sensor_frames:
            frames.append({"name": frame, "extrinsic": _extrinsic(parent, rig.transform(parent, frame))})
    sensors = []
    for s in rig.sensors.values():
        entry: dict[str, Any] = {
            "name": s.name,
            "kind": s.kind,
            "topic": s.topic,
            "frame_id": s.frame_id,
            "rate_hz": s.rate_hz,
            "optional": s.optional,
        }
        if s.rate_tolerance is not None:
            entry["rate_tolerance"] = s.rate_tolerance
        if s.time_offset_ns:
            entry["time_offset_ns"] = s.time_offset_ns
        if s.frame_id != rig.base_frame:
            entry["extrinsic"] = _extrinsic(s.parent_frame, s.T_parent_sensor)
        if s.camera is not None:
            entry["camera"] = _camera(s)
        if s.lidar is not None:
            entry["lidar"] = _lidar(s.lidar)
        if s.radar is not None:
            entry["radar"] = s.radar.model_dump()
        sensors.append(entry)
    out: dict[str, Any] = {"name": rig.name, "base_frame": rig.base_frame}
    if frames:
        out["frames"] = frames
    out["sensors"] = sensors
    return out


def dump_rig(rig: Rig, path: str | Path) -> None:
    """Write ``rig`` as a rig YAML file."""
    Path(path).write_text(
        yaml.safe_dump(rig_to_dict(rig), sort_keys=False, default_flow_style=None, width=120),
        encoding="utf-8",
    )


def _extrinsic(parent: str | None, T: np.ndarray) -> dict[str, Any]:
    """Quaternion when it reproduces the matrix exactly enough, else the matrix as written."""
    R = T[:3, :3]
    q = Rotation.from_matrix(R).as_quat()
    out: dict[str, Any] = {"parent": parent, "translation": [float(v) for v in T[:3, 3]]}
    if np.abs(Rotation.from_quat(q).as_matrix() - R).max() < 1e-12:
        out["quaternion"] = [float(v) for v in q]
    else:
        out["rotation_matrix"] = [[float(v) for v in row] for row in R]
    return out


def _lidar(spec: LidarSpec) -> dict[str, Any]:
    """Evenly spaced beams are written as ``vertical_range_deg`` (what the file most likely said)."""
    out = spec.model_dump()
    angles = spec.vertical_angles_deg
    if np.array_equal(np.linspace(angles[0], angles[-1], spec.beams), angles):
        del out["vertical_angles_deg"]
        out = {"beams": spec.beams, "vertical_range_deg": [angles[0], angles[-1]], **out}
    else:
        out["vertical_angles_deg"] = list(angles)
    return out


def _camera(s: Sensor) -> dict[str, Any]:
    cam = s.camera
    assert cam is not None
    out: dict[str, Any] = {
        "width": cam.width,
        "height": cam.height,
        "K": [float(v) for v in cam.K.ravel()],
        "distortion_model": cam.distortion_model,
        "D": list(cam.D),
        "R": [float(v) for v in cam.R.ravel()],
        "P": [float(v) for v in cam.P.ravel()],
    }
    if cam.max_fov_deg is not None:
        out["max_fov_deg"] = cam.max_fov_deg
    out["compressed"] = s.compressed
    if s.info_topic != default_info_topic(s.topic):
        out["info_topic"] = s.info_topic
    return out
