"""Child process for the crash tests: records 200 small images/s until killed or sent SIGTERM.

Prints ``<seq>`` after each message it enqueued (flushed), so the parent knows what was handed over
before it killed the process. Usage: python record_child.py BAG_DIR
"""

from __future__ import annotations

import signal
import sys
import time

from sensor_msgs.msg import Image

from mmfusion_annotate.recording import serialize
from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.recorder import Recorder

recorder = Recorder(
    sys.argv[1], RecorderConfig(flush_interval_s=0.5, fsync_interval_s=2.0, compression="lz4")
)
recorder.add_topic("/cam/image_raw", "sensor_msgs/msg/Image", "sensor_data")


def stop(*_):
    clean = recorder.close(timeout=3.0)
    sys.exit(0 if clean else 3)


signal.signal(signal.SIGTERM, stop)
seq = 0
while True:
    image = Image(height=20, width=seq, encoding="mono8", step=20, data=bytes([seq % 256]) * 4000)
    recorder.enqueue("/cam/image_raw", "sensor_msgs/msg/Image", serialize("sensor_msgs/msg/Image", image),
                     time.time_ns())  # fmt: skip
    print(seq, flush=True)
    seq += 1
    time.sleep(0.005)
