"""Camera samples whose image is decoded only when the pipeline first needs it.

Most received images never need their pixels: those not picked into a synced set (cameras run faster
than the LiDAR), those of a set dropped under overload, all but every ``alignment_every``-th one of the
edge checks. ``fusion_node`` therefore keeps the message's bytes in the sample and decodes on first
access, whichever thread asks first. ``Prefetcher`` asks early, on a helper thread, while the pipeline
keeps up. ROS-free (it only reads message attributes), so it is tested without DDS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.msgs.image import compressed_kind
from mmfusion_annotate.msgs.samples import decode_sample
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

    @property
    def loaded(self) -> bool:
        """True once decoded (a failed decode stays False)."""
        return self._data is not None


class Prefetcher:
    """Decodes lazy payloads ahead of the pipeline on one helper thread, a bounded number at a time.

    Why: images reach the node up to a LiDAR period before their set is complete (a sweep is published
    once it ends), so decoding them as they arrive takes the JPEG decode (~5 ms per 1600x900 image, ~25 ms
    per frame of the default rig) off the pipeline thread's path; OpenCV releases the GIL, so it runs on
    the other core. The cost is decoding the images no set picks (cameras faster than the LiDAR). Beyond
    ``max_pending`` queued decodes an image stays lazy (the pipeline decodes it if it needs it), so a burst
    never piles up decoded images. A broken image is left for the pipeline, which counts it.
    """

    def __init__(self, name: str, max_pending: int) -> None:
        if max_pending < 1:
            raise ValueError(f"prefetcher '{name}': max_pending must be >= 1, not {max_pending}")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._pending = 0
        self.offered = 0
        self.skipped = 0  # offers turned down because ``max_pending`` decodes were queued

    def offer(self, payload: LazyPayload) -> bool:
        """Queue ``payload``'s decode unless ``max_pending`` are queued; False when turned down."""
        with self._lock:
            self.offered += 1
            if self._pending >= self._max_pending:
                self.skipped += 1
                return False
            self._pending += 1
        try:
            self._executor.submit(self._decode, payload)
        except RuntimeError:  # shut down: the pipeline decodes it if it still needs it
            with self._lock:
                self._pending -= 1
            return False
        return True

    def _decode(self, payload: LazyPayload) -> None:
        try:
            payload._load()
        except CodecError:
            pass  # counted by the pipeline when (and if) it needs this image
        finally:
            with self._lock:
                self._pending -= 1

    def close(self) -> None:
        """Stop decoding ahead (queued decodes are dropped; the payloads stay lazy)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def lazy_camera_sample(sensor: Any, msg: Any) -> SensorSample:
    """The sample of a camera message with its image decoded on first access.

    The stamp and, for a CompressedImage, the format are checked now (cheap), so a message that is
    plainly wrong is counted at intake like any other; a corrupt image body surfaces as ``CodecError``
    when it is first decoded (the ``Annotator`` counts it and leaves that image out).
    """
    try:
        stamp = from_ros_time(msg.header.stamp)
        if hasattr(msg, "format"):
            compressed_kind(str(msg.format), topic=sensor.topic)
    except CodecError:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise CodecError(f"not a valid camera message ({exc})", topic=sensor.topic) from None
    return SensorSample(sensor.name, stamp, LazyPayload(lambda: decode_sample(sensor, msg).payload), msg)
