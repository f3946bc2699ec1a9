"""Static messages a bag or a review needs alone: the rig's frame tree as ``/tf_static`` and each
camera's ``CameraInfo``; the recorder repeats them at the start of every split file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from mmfusion_annotate.interfaces.cdr import new_message
from mmfusion_annotate.interfaces.msgtypes import TF_MESSAGE
from mmfusion_annotate.msgs.time import make_header
from mmfusion_annotate.rig import Rig
from mmfusion_annotate.types import Stamp


def tf_static_message(rig: Rig, stamp_ns: Stamp) -> Any:
    """Carried ``tf2_msgs/TFMessage``: every frame of the rig's tree relative to its parent.

    Built from the tree (not the sensor list), so intermediate frames and sensors mounted on other
    sensors come out as the file defines them; ``Rig.transform(parent, child)`` gives each transform.
    """
    transforms = [
        transform_stamped(parent, frame, rig.transform(parent, frame), stamp_ns)
        for frame in rig.frames()
        if (parent := rig.tree.parent(frame)) is not None
    ]
    return new_message(TF_MESSAGE, transforms=transforms)


def transform_stamped(parent: str, child: str, T: np.ndarray, stamp_ns: Stamp) -> Any:
    """``geometry_msgs/TransformStamped`` (rclpy) of the 4x4 pose ``T`` of ``child`` in ``parent``."""
    from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3

    qx, qy, qz, qw = (float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat())
    x, y, z = (float(v) for v in T[:3, 3])
    transform = Transform(translation=Vector3(x=x, y=y, z=z), rotation=Quaternion(x=qx, y=qy, z=qz, w=qw))
    return TransformStamped(header=make_header(parent, stamp_ns), child_frame_id=child, transform=transform)


def camera_info_messages(rig: Rig, stamp_ns: Stamp) -> dict[str, Any]:
    """Info topic -> ``sensor_msgs/CameraInfo`` (rclpy) of every camera with a model, in rig order."""
    return {
        s.camera_info_topic: s.camera.to_camera_info(s.frame_id, stamp_ns)
        for s in rig.cameras()
        if s.camera is not None
    }
