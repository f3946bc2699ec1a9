"""The vehicle rig: sensors, frame tree, camera models and calibration readers.

``load_rig(path)`` reads and validates a rig YAML; ``Rig.transform(target, source)`` looks up static
transforms; ``CameraModel`` projects with sensor_msgs/CameraInfo semantics against numpy or cupy.
"""

from mmfusion_annotate.rig.camera_model import CameraModel
from mmfusion_annotate.rig.loader import dump_rig, load_rig, rig_from_dict, rig_to_dict
from mmfusion_annotate.rig.paths import config_dir, default_rig_path
from mmfusion_annotate.rig.rig import Rig, Sensor
from mmfusion_annotate.rig.schema import LidarSpec, RadarSpec

__all__ = [
    "CameraModel",
    "LidarSpec",
    "RadarSpec",
    "Rig",
    "Sensor",
    "config_dir",
    "default_rig_path",
    "dump_rig",
    "load_rig",
    "rig_from_dict",
    "rig_to_dict",
]
