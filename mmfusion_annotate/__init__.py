"""mmfusion_annotate: multimodal sync, fusion, cross-modal pre-labels, events and MCAP recording.

The core (every sub-package but ``nodes``) is ROS-free: numpy arrays, dataclasses and integer
nanosecond stamps. Only ``nodes`` (and the thin message_filters face in ``sync``) import rclpy.
"""

__version__ = "0.1.0"
