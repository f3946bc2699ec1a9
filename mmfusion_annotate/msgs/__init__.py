"""ROS message <-> numpy codecs (PointCloud2, Image, CompressedImage, radar clouds), without cv_bridge.

The decoders accept any object carrying the message's attributes (rclpy messages, ``rosbags`` or
``mcap-ros2`` decoded messages), so offline tools share them with the nodes; the encoders build real
``sensor_msgs`` messages, imported lazily so that the rest of the core never loads ROS.
Modules: ``pointcloud2`` (+ ``pointfield`` layout, ``point_time`` time rule, ``rgb`` packing),
``image``, ``radar``, ``time``. Inputs only: the messages the suite writes are built in ``outputs``, on the
carried definitions and CDR plumbing of ``interfaces``.
"""
