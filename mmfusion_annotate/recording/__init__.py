"""Recording: rosbag2-compatible MCAP bags (``BagWriter``/``BagReader``) and the recorder.

Re-exports the CDR codecs of ``interfaces.cdr`` (ROS-free except for ``serialize``/``deserialize`` of
installed types, which import rclpy lazily).
"""

from mmfusion_annotate.interfaces.cdr import deserialize, message_class, new_message, serialize
from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.qos import QosProfile
from mmfusion_annotate.recording.reader import BagMessage, BagReader, bag_files
from mmfusion_annotate.recording.recorder import Recorder, RecorderStats
from mmfusion_annotate.recording.writer import EVENTS_RECORD, BagWriter

__all__ = [
    "EVENTS_RECORD",
    "BagMessage",
    "BagReader",
    "BagWriter",
    "QosProfile",
    "Recorder",
    "RecorderConfig",
    "RecorderStats",
    "bag_files",
    "deserialize",
    "message_class",
    "new_message",
    "serialize",
]
