"""Pictures of a labelled bag's frames, for people: the sensor messages a picture needs, read in one pass,
and a frame's labels as what ``drawing`` draws (boxes with labels, cuboids seen from above).

Shared by ``mmfusion sheet`` and ``mmfusion review``: both read a few images and sweeps out of a long bag
by (topic, header stamp), so the messages are looked up through the chunk index around the wanted times,
not decoded end to end.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from mmfusion_annotate import drawing
from mmfusion_annotate.bagtools.source import open_bag, read_messages
from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.export.bag_labels import LOG_DELAY_NS, FrameObject, LabelledFrame
from mmfusion_annotate.interfaces.cdr import deserialize
from mmfusion_annotate.msgs.image import decode_compressed, decode_image
from mmfusion_annotate.msgs.pointcloud2 import decode, points_xyz
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.outputs.labels import class_color_rgb8
from mmfusion_annotate.recording.salvage import ReadLosses
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp


def rgb8(msg: Any, msgtype: str, topic: str) -> np.ndarray:
    """Any camera message (raw or compressed, colour or mono, 8 or 16 bit) as RGB uint8 for drawing."""
    pixels = (
        decode_compressed(msg, topic=topic)
        if msgtype.endswith("CompressedImage")
        else decode_image(msg, topic=topic)
    )
    if pixels.dtype != np.uint8:
        top = float(pixels.max()) or 1.0
        pixels = (pixels.astype(np.float32) * (255.0 / top)).astype(np.uint8)
    return (
        cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
        if pixels.ndim == 2
        else np.ascontiguousarray(pixels[..., :3])
    )


def sweep_in_base(msg: Any, rig: Rig, lidar: str, topic: str) -> np.ndarray:
    """A LiDAR sweep's finite points (N, 3) in the base frame (the rig's mounting)."""
    xyz = points_xyz(decode(msg, drop_nan=True, topic=topic), topic=topic).astype(np.float64)
    T = rig.sensor_to_base(lidar)
    return xyz @ T[:3, :3].T + T[:3, 3]


def sensor_messages(
    bag: Path,
    wanted: Collection[tuple[str, Stamp]],
    losses: ReadLosses,
    *,
    progress: bool = False,
) -> Iterator[tuple[str, Stamp, str, Any]]:
    """(topic, header stamp, message type, message) of each wanted (topic, header stamp), in log order.

    Each wanted stamp's messages are read from ``LOG_DELAY_NS`` around it (a message is logged after its
    stamp); a message that cannot be decoded is counted in ``losses`` and skipped.
    """
    by_topic: dict[str, set[Stamp]] = {}
    for topic, stamp in wanted:
        by_topic.setdefault(topic, set()).add(stamp)
    files = open_bag(bag)
    windows = sorted({s for stamps in by_topic.values() for s in stamps})
    spans: list[list[Stamp]] = []
    for stamp in windows:  # neighbouring stamps share one read
        if spans and stamp - LOG_DELAY_NS <= spans[-1][1]:
            spans[-1][1] = stamp + LOG_DELAY_NS
        else:
            spans.append([stamp - LOG_DELAY_NS, stamp + LOG_DELAY_NS])
    seen: set[tuple[str, Stamp]] = set()
    with tqdm(total=len(set(wanted)), desc="pictures", unit=" msgs", disable=not progress) as bar:
        for start, end in spans:
            for message in read_messages(
                files, topics=set(by_topic), starting_at=start, ending_at=end, losses=losses
            ):
                try:
                    msg = deserialize(message.msgtype, message.data)
                except CodecError as error:
                    losses.skip(message.topic, message.log_time_ns, str(error))
                    continue
                stamp = from_ros_time(msg.header.stamp)
                key = (message.topic, stamp)
                if stamp in by_topic[message.topic] and key not in seen:
                    seen.add(key)
                    bar.update()
                    yield message.topic, stamp, message.msgtype, msg


def object_tags(frame: LabelledFrame, camera: str) -> list[drawing.Tag]:
    """The 2D boxes of ``camera`` in ``frame``, labelled with class and track id, in class colours."""
    view = frame.cameras.get(camera)
    if view is None:
        return []
    objects = {o.box.object_id: o for o in frame.objects}
    tags = []
    for oid, box in view.boxes.items():
        obj = objects.get(oid)
        label = obj.box.label if obj is not None else None
        color = class_color_rgb8(label) if label is not None else drawing.WHITE
        tags.append(drawing.Tag(box, f"{label.value if label else 'object'} #{oid}", color))
    return tags


def top_boxes(objects: Collection[FrameObject], highlight: Collection[int] = ()) -> list[drawing.TopBox]:
    """The frame's cuboids seen from above, in class colours, the ``highlight`` ids marked."""
    return [
        drawing.TopBox(
            o.box.center,
            o.box.size,
            o.box.yaw,
            class_color_rgb8(o.box.label),
            f"#{o.box.object_id}",
            o.box.object_id in highlight,
        )
        for o in objects
    ]
