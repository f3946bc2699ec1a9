"""The message type names the suite reads and writes, and what each rig sensor kind publishes: one owner.

The recorder, the simulator, the dataset importers and the nodes all name a sensor's type through
``sensor_msgtype``, so a live drive, a synthetic one and an imported one carry the same types.
"""

from __future__ import annotations

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
IMU = "sensor_msgs/msg/Imu"
ODOMETRY = "nav_msgs/msg/Odometry"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
EVENT = "mmfusion_annotate/msg/Event"
"""The project's event as carried (``interfaces/definitions``): the name the suite's bags record."""
INSTALLED_EVENT = "mmfusion_annotate_msgs/msg/Event"
"""The same event from the interface package of a colcon install (the name a standalone recorder uses)."""
EVENT_TYPES = (EVENT, INSTALLED_EVENT)
"""Both names of the one event definition: bag tools read a channel of either type as events."""

SENSOR_MSGTYPES = {"lidar": POINTCLOUD2, "radar": POINTCLOUD2, "imu": IMU, "odometry": ODOMETRY}
"""Rig sensor kind -> message type, cameras aside (see ``sensor_msgtype``)."""


def sensor_msgtype(kind: str, compressed: bool = False) -> str:
    """The type a sensor of ``kind`` publishes (cameras: Image, or CompressedImage when ``compressed``)."""
    if kind == "camera":
        return COMPRESSED_IMAGE if compressed else IMAGE
    return SENSOR_MSGTYPES[kind]
