"""``nav_msgs/Odometry`` from arrays: the ego-motion message of a car (the decoder is ``msgs.samples``).

Shared by every producer of odometry (the synthetic drive's sensor and truth topics, dataset imports),
so they all fill the same fields the same way: pose in ``frame``, twist in ``child`` (base_link) axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.types import Stamp

WORLD_FRAME = "world"
"""The fixed frame that ground-truth ego poses are given in (``/truth/ego``, imported drives)."""


def odometry_message(
    frame: str,
    child: str,
    stamp: Stamp,
    position: np.ndarray,
    quaternion: np.ndarray,
    linear: np.ndarray,
    angular: np.ndarray,
) -> Any:
    """Odometry of ``child`` in ``frame``: position, quaternion (x, y, z, w), body twist (linear, angular)."""
    from nav_msgs.msg import Odometry  # noqa: PLC0415

    msg = Odometry(header=make_header(frame, stamp), child_frame_id=child)
    pose, twist = msg.pose.pose, msg.twist.twist
    pose.position.x, pose.position.y, pose.position.z = map(float, position)
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = map(float, quaternion)
    twist.linear.x, twist.linear.y, twist.linear.z = map(float, linear)
    twist.angular.x, twist.angular.y, twist.angular.z = map(float, angular)
    return msg
