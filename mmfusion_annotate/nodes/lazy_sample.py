"""Camera samples whose image is decoded only when the pipeline first needs it.

Most received images never need their pixels: those not picked into a synced set (cameras run faster
than the LiDAR), those of a set dropped under overload, all but every ``alignment_every``-th one of the
edge checks. ``fusion_node`` therefore keeps the message's bytes in the sample and decodes on first
access, on the worker thread. ROS-free (it only reads message attributes), so it is tested without DDS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import compressed_kind
from mmfusion_annotate.msgs.samples import check_camera_message, decode_sample
from mmfusion_annotate.msgs.time import from_ros_time
from mmfusion_annotate.types import SensorSample


class LazyPayload(Mapping[str, np.ndarray]):
    """A payload mapping that runs ``decode()`` on first access (once; a failure raises on every access)."""

    def __init__(self, decode: Callable[[], Mapping[str, np.ndarray]]) -> None:
        self._decode = decode
        self._data: Mapping[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> Mapping[str, np.ndarray]:
        if self._data is None:
            with self._lock:
                if self._data is None:
                    self._data = self._decode()
        return self._data

    def __getitem__(self, key: str) -> np.ndarray:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def lazy_camera_sample(sensor: Any, msg: Any) -> SensorSample:
    """The sample of a camera message with its image decoded on first access.

    The stamp, a raw Image's size and pixel type and a CompressedImage's format are checked now
    (cheap), so a message that is plainly wrong is counted at intake like any other; a corrupt image
    body surfaces as ``CodecError`` when it is first decoded (the ``Annotator`` counts it and leaves
    that image out).
    """
    try:
        stamp = from_ros_time(msg.header.stamp)
        if hasattr(msg, "format"):
            compressed_kind(str(msg.format), topic=sensor.topic)
        else:
            check_camera_message(sensor, msg)
    except CodecError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise CodecError(f"not a valid camera message ({exc})", topic=sensor.topic) from None
    return SensorSample(sensor.name, stamp, LazyPayload(lambda: decode_sample(sensor, msg).payload), msg)
