"""Pre-labelled cuboids as ``visualization_msgs/MarkerArray``, for RViz (Foxglove renders it too).

Each array starts with a DELETEALL marker, so retired tracks vanish with the next frame whatever their
lifetime; then one CUBE (namespace ``prelabels``) and one TEXT_VIEW_FACING label (``prelabels/text``)
per cuboid, both with the tracker's id as marker id and the class colours of :mod:`labels`.
"""

from __future__ import annotations

from typing import Any

from mmfusion_annotate.msgs.time import make_header, split_ns
from mmfusion_annotate.outputs.labels import (
    CUBE_ALPHA,
    DEFAULT_LIFETIME_NS,
    TEXT_HEIGHT_M,
    class_color,
    label_text,
    text_anchor,
    vector3,
    yaw_pose,
)
from mmfusion_annotate.prelabel.model import PrelabelResult
from mmfusion_annotate.types import Stamp

CUBE_NS = "prelabels"
TEXT_NS = "prelabels/text"


def marker_array(
    result: PrelabelResult, stamp_ns: Stamp, frame_id: str = "base_link", *,
    lifetime_ns: int = DEFAULT_LIFETIME_NS,
) -> Any:  # fmt: skip
    """MarkerArray of ``result``'s cuboids at ``stamp_ns`` in ``frame_id`` (DELETEALL first)."""
    from builtin_interfaces.msg import Duration
    from std_msgs.msg import ColorRGBA
    from visualization_msgs.msg import Marker, MarkerArray

    header = make_header(frame_id, stamp_ns)
    sec, nanosec = split_ns(lifetime_ns)
    lifetime = Duration(sec=sec, nanosec=nanosec)
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for cuboid in result.cuboids:
        r, g, b = class_color(cuboid.label)
        common = {"header": header, "id": cuboid.object_id, "action": Marker.ADD, "lifetime": lifetime,
                  "frame_locked": False}  # fmt: skip
        markers.append(Marker(
            ns=CUBE_NS, type=Marker.CUBE, pose=yaw_pose(cuboid.center, cuboid.yaw),
            scale=vector3(cuboid.size), color=ColorRGBA(r=r, g=g, b=b, a=CUBE_ALPHA), **common,
        ))  # fmt: skip
        markers.append(Marker(
            ns=TEXT_NS, type=Marker.TEXT_VIEW_FACING, pose=yaw_pose(text_anchor(cuboid)),
            scale=vector3((0.0, 0.0, TEXT_HEIGHT_M)), color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
            text=label_text(cuboid.label, cuboid.object_id, cuboid.provenance.confidence), **common,
        ))  # fmt: skip
    return MarkerArray(markers=markers)
