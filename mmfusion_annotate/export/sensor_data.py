"""``--with-data``: the images and point clouds an export's frames refer to, written beside the JSON.

A labelling platform that wants files gets a complete upload: each camera image of a frame as it was
recorded (a JPEG/PNG ``CompressedImage`` copied byte for byte, a raw ``Image`` as PNG) and each LiDAR
sweep as a binary PCD (x y z intensity, float32, in the LiDAR's own frame, NaN returns dropped), named
``<stream>/<frame index>_<stamp ns>.<ext>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.export.bag_labels import LOG_DELAY_NS, BagLabels
from mmfusion_annotate.export.openlabel import DataFiles
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.msgs.image import compressed_kind, decode_image
from mmfusion_annotate.msgs.pointcloud2 import decode, points_xyz
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.types import Stamp


def write_pcd(path: Path, xyz: np.ndarray, intensity: np.ndarray | None) -> None:
    """A binary PCD v0.7 file of float32 x y z (and intensity when given)."""
    columns = [xyz.astype(np.float32)]
    fields = ["x", "y", "z"]
    if intensity is not None:
        columns.append(intensity.astype(np.float32).reshape(-1, 1))
        fields.append("intensity")
    data = np.ascontiguousarray(np.hstack(columns), dtype=np.float32)
    n = len(data)
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {' '.join(fields)}\nSIZE {' '.join(['4'] * len(fields))}\n"
        f"TYPE {' '.join(['F'] * len(fields))}\nCOUNT {' '.join(['1'] * len(fields))}\n"
        f"WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA binary\n"
    )
    path.write_bytes(header.encode("ascii") + data.tobytes())


def _image_file(msg: Any, msgtype: str, topic: str) -> tuple[str, bytes]:
    if msgtype.endswith("CompressedImage"):
        kind = compressed_kind(str(msg.format), topic=topic)
        return (".jpg" if kind == "jpeg" else ".png"), bytes(msg.data)
    pixels = decode_image(msg, topic=topic)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError(f"{topic}: cannot encode a {pixels.shape} image as PNG")
    return ".png", encoded.tobytes()


def write_sensor_data(labels: BagLabels, out_dir: Path, *, cameras_only: bool = False) -> DataFiles:
    """Write every frame's images (and sweeps) under ``out_dir``; (stream, frame index) -> relative name."""
    wanted: dict[tuple[str, Stamp], list[tuple[str, int]]] = {}
    rig = labels.rig
    for index, frame in enumerate(labels.frames):
        stamps = {**({} if cameras_only else frame.lidars), **{n: v.stamp for n, v in frame.cameras.items()}}
        for name, stamp in stamps.items():
            wanted.setdefault((rig.sensor(name).topic, stamp), []).append((name, index))
    topics = {topic for topic, _ in wanted}
    start, end = labels.frames[0].stamp - LOG_DELAY_NS, labels.frames[-1].stamp + LOG_DELAY_NS
    written: DataFiles = {}
    for message in read_messages(open_bag(labels.bag), topics=topics, starting_at=start, ending_at=end):
        msg = deserialize(message.msgtype, message.data)
        targets = wanted.get((message.topic, from_ros_time(msg.header.stamp)))
        if not targets:
            continue
        for name, index in targets:
            sensor = rig.sensor(name)
            stem = f"{name}/{index:06d}_{from_ros_time(msg.header.stamp)}"
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            if sensor.kind == "camera":
                ext, data = _image_file(msg, message.msgtype, message.topic)
                (out_dir / (stem + ext)).write_bytes(data)
            else:
                ext = ".pcd"
                points = decode(msg, drop_nan=True)
                names = points.dtype.names or ()
                write_pcd(
                    out_dir / (stem + ext),
                    points_xyz(points),
                    points["intensity"] if "intensity" in names else None,
                )
            written[(name, index)] = stem + ext
    return written
