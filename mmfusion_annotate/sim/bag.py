"""``write_bag``: a simulated drive straight into a rosbag2-compatible MCAP bag (no DDS involved).

Messages are logged when a car's drivers would publish them (each LiDAR sweep once its last point is
captured, ``messages.publish_ns``), so a bag plays back like a recorded car. Sensor topics are offered
with the sensor-data QoS, ``/tf_static`` and camera info are static
(repeated at the start of every split); with ``with_truth`` the truth topics of :mod:`messages` are
added, each scripted event and fault is mirrored into the bag's event metadata, and the whole event
and fault truth is kept as JSON in ``metadata.yaml`` (custom data key ``mmfusion_sim_truth``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from mmfusion_annotate.interfaces.msgtypes import CAMERA_INFO, TF_MESSAGE
from mmfusion_annotate.outputs.rig_topics import TF_STATIC, tf_static_message
from mmfusion_annotate.recording import BagWriter
from mmfusion_annotate.recording.canonical import canonical_cdr
from mmfusion_annotate.recording.publish_order import in_publish_order
from mmfusion_annotate.sim.drive import Drive
from mmfusion_annotate.sim.messages import publish_ns, sample_messages, truth_messages

TRUTH_KEY = "mmfusion_sim_truth"


def write_bag(
    drive: Drive,
    bag_dir: str | os.PathLike,
    *,
    with_truth: bool = True,
    compression: str = "none",
    split_size_bytes: int | None = None,
) -> BagWriter:
    """Generate the whole drive into ``bag_dir``; returns the closed writer (files, message count)."""
    with BagWriter(bag_dir, compression=compression, split_size_bytes=split_size_bytes) as writer:
        writer.add_topic(TF_STATIC, TF_MESSAGE, qos="latched")
        writer.set_static(TF_STATIC, tf_static_message(drive.rig, 0), 0)
        added: set[str] = set()

        def stamped():
            for sample in drive.samples():
                publish = publish_ns(drive, sample)
                for message in sample_messages(drive, sample):
                    yield sample.stamp, publish, message
                if with_truth:  # the truth belongs to the instant itself, not to when a driver sends it
                    for message in truth_messages(drive, sample):
                        yield sample.stamp, sample.stamp, message

        for log_ns, (topic, msgtype, msg, _) in in_publish_order(stamped()):
            data = canonical_cdr(msgtype, msg)
            static = msgtype == CAMERA_INFO
            if topic not in added:
                qos = "latched" if static else "reliable" if topic.startswith("/truth") else "sensor_data"
                writer.add_topic(topic, msgtype, qos=qos)
                added.add(topic)
            if static:
                writer.set_static(topic, data, log_ns)
            else:
                writer.write(topic, data, log_ns)
        if with_truth:
            truth = drive.truth
            for i, event in enumerate(truth.events):
                writer.add_event_metadata(
                    f"truth_event_{i}",
                    event.t_ns,
                    event.t_ns,
                    {"type": event.type, "objects": list(event.objects), "source": "sim_truth"},
                )
            for i, fault in enumerate(truth.faults):
                writer.add_event_metadata(
                    f"truth_fault_{i}",
                    fault.start_ns,
                    fault.end_ns or fault.start_ns,
                    {"type": fault.type, "sensor": fault.sensor, "source": "sim_truth"},
                )
            writer.custom_data[TRUTH_KEY] = json.dumps(
                {
                    "scenario": drive.scenario.name,
                    "seed": drive.seed,
                    "events": [asdict(e) for e in truth.events],
                    "faults": [asdict(f) for f in truth.faults],
                },
                sort_keys=True,
            )
    return writer
