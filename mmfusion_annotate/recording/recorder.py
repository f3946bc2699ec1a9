"""``Recorder``: a never-blocking queue in front of one writer thread that owns a ``BagWriter``.

Why this shape: subscription callbacks must return at once whatever the disk does, so they only append
serialized bytes to a queue bounded in bytes; what does not fit is dropped and counted per topic. The
writer thread closes the open chunk every ``flush_interval_s`` (a ``kill -9`` loses at most that much),
fsyncs every ``fsync_interval_s``, and on an I/O error (disk full, directory gone) gives up the open file,
counts what it loses and tries again every ``retry_interval_s`` instead of dying. ROS-free; the node wraps it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmfusion_annotate.recording.config import RecorderConfig
from mmfusion_annotate.recording.qos import QosProfile
from mmfusion_annotate.recording.writer import BagWriter, Opener

_log = logging.getLogger(__name__)

_MESSAGE, _STATIC, _TOPIC, _EVENT = range(4)


@dataclass(frozen=True)
class RecorderStats:
    """A snapshot for ``/diagnostics`` and the bag's metadata."""

    received: Mapping[str, int]
    written: Mapping[str, int]
    dropped_queue: Mapping[str, int]
    """Dropped because the queue was full (the disk did not keep up)."""
    dropped_io: Mapping[str, int]
    """Lost to I/O errors (disk full, unwritable directory) or to a close that ran out of time."""
    bytes_written: int
    queue_bytes: int
    queue_peak_bytes: int
    files: tuple[str, ...]
    io_errors: int
    last_error: str
    healthy: bool

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped_queue.values()) + sum(self.dropped_io.values())


class Recorder:
    """Records serialized messages into ``bag_dir``; ``enqueue`` never blocks. Close with ``close()``."""

    def __init__(
        self,
        bag_dir: str | os.PathLike,
        config: RecorderConfig | None = None,
        *,
        opener: Opener | None = None,
    ) -> None:
        self.config = config or RecorderConfig()
        self.bag_dir = Path(bag_dir)
        self._writer = BagWriter(
            self.bag_dir,
            compression=self.config.compression,
            split_size_bytes=self.config.split_size_bytes(),
            split_duration_ns=self.config.split_duration_ns(),
            chunk_size=int(self.config.chunk_size_mb * 1e6),
            opener=opener,
        )
        self._limit = int(self.config.queue_limit_mb * 1e6)
        self._cond = threading.Condition()
        self._queue: deque[tuple] = deque()
        self._queue_bytes = 0
        self._queue_peak = 0
        self._types: dict[str, str] = {}
        self._received: Counter[str] = Counter()
        self._written: Counter[str] = Counter()
        self._dropped_queue: Counter[str] = Counter()
        self._dropped_io: Counter[str] = Counter()
        self._bytes_written = 0
        self._io_errors = 0
        self._last_error = ""
        self._failed_until = 0.0
        self._stopping = False
        self._abort = False
        self._thread = threading.Thread(target=self._run, name="mmfusion-recorder", daemon=True)
        self._thread.start()

    # -- producer side (any thread, never blocks on I/O) ------------------------------------------------

    def add_topic(self, topic: str, msgtype: str, qos: str | QosProfile = "reliable") -> None:
        """Declare a topic with the QoS its publishers offer (before its first message, ideally)."""
        with self._cond:
            if topic in self._types:
                return
            self._types[topic] = msgtype
            self._queue.append((_TOPIC, topic, msgtype, qos, 0))
            self._cond.notify()

    def enqueue(self, topic: str, msgtype: str, data: bytes, recv_ns: int) -> bool:
        """Queue one serialized message; False (and counted) when the queue is full."""
        return self._put(_MESSAGE, topic, msgtype, data, recv_ns)

    def set_static(
        self, topic: str, msgtype: str, data: bytes, recv_ns: int, *, replace: bool = True
    ) -> bool:
        """Queue a static message (``/tf_static``, camera info), repeated at the start of every split."""
        return self._put(_STATIC, topic, msgtype, data, recv_ns, replace)

    def add_event(self, event_id: str, start_ns: int, end_ns: int, fields: Mapping[str, Any]) -> None:
        """Mirror an event into the ``mmfusion_events`` metadata record of the files it touches."""
        with self._cond:
            self._queue.append((_EVENT, event_id, start_ns, end_ns, dict(fields)))
            self._cond.notify()

    def stats(self) -> RecorderStats:
        with self._cond:
            return RecorderStats(
                received=dict(self._received),
                written=dict(self._written),
                dropped_queue=dict(self._dropped_queue),
                dropped_io=dict(self._dropped_io),
                bytes_written=self._bytes_written,
                queue_bytes=self._queue_bytes,
                queue_peak_bytes=self._queue_peak,
                files=tuple(str(p) for p in self._writer.files),
                io_errors=self._io_errors,
                last_error=self._last_error,
                healthy=self._failed_until == 0.0,
            )

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued and close the bag, within ``timeout`` s (what is left then is dropped).

        Returns True when everything queued was written and the last file closed cleanly.
        """
        timeout = self.config.close_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(max(0.0, timeout * 0.8))
        if self._thread.is_alive():
            with self._cond:
                self._abort = True
                self._cond.notify()
            self._thread.join(max(0.0, deadline - time.monotonic()))
        stats = self.stats()
        return not self._thread.is_alive() and stats.healthy and not stats.dropped_io

    # -- internals -------------------------------------------------------------------------------------

    def _put(self, kind: int, topic: str, msgtype: str, data: bytes, recv_ns: int, extra: Any = None) -> bool:
        size = len(data)
        with self._cond:
            self._received[topic] += 1
            if topic not in self._types:
                self._types[topic] = msgtype
                self._queue.append((_TOPIC, topic, msgtype, "reliable", 0))
            if self._stopping:  # arrived after the stop was asked for: past the recording's end, not lost
                return False
            if self._queue_bytes + size > self._limit:
                self._dropped_queue[topic] += 1
                return False
            self._queue.append((kind, topic, data, recv_ns, extra))
            self._queue_bytes += size
            self._queue_peak = max(self._queue_peak, self._queue_bytes)
            self._cond.notify()
            return True

    def _run(self) -> None:
        now = time.monotonic()
        next_flush = now + self.config.flush_interval_s
        next_fsync = now + self.config.fsync_interval_s
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    if not self._cond.wait(max(0.0, next_flush - time.monotonic())):
                        break
                batch, self._queue = self._queue, deque()
                stopping, abort = self._stopping, self._abort
            for item in batch:
                if abort or self._abort:
                    self._lose(item)
                else:
                    self._handle(item)
            now = time.monotonic()
            if now >= next_flush:
                self._guarded(self._sync, now >= next_fsync)
                next_flush = now + self.config.flush_interval_s
                if now >= next_fsync:
                    next_fsync = now + self.config.fsync_interval_s
            with self._cond:
                done = stopping and not self._queue
            if done or abort:
                break
        self._finish()

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == _TOPIC:
            _, topic, msgtype, qos, _ = item
            self._guarded(self._writer.add_topic, topic, msgtype, qos)
            return
        if kind == _EVENT:
            _, event_id, start_ns, end_ns, fields = item
            self._writer.add_event_metadata(event_id, start_ns, end_ns, fields)
            return
        _, topic, data, recv_ns, replace = item
        if self._failed_until:
            if time.monotonic() < self._failed_until:
                self._lose(item)
                return
            # retrying: the file opened now writes metadata.yaml, which then counts the drops so far
            self._writer.custom_data.update(self._drop_report())
        if kind == _STATIC:
            ok = self._guarded(self._writer.set_static, topic, data, recv_ns, replace=replace)
        else:
            ok = self._guarded(self._writer.write, topic, data, recv_ns)
        with self._cond:
            self._queue_bytes -= len(data)
            if ok:
                self._written[topic] += 1
                self._bytes_written += len(data)
                self._failed_until = 0.0
            else:
                self._dropped_io[topic] += 1

    def _lose(self, item: tuple) -> None:
        if item[0] in (_MESSAGE, _STATIC):
            with self._cond:
                self._queue_bytes -= len(item[2])
                self._dropped_io[item[1]] += 1

    def _guarded(self, action, *args: Any, **kwargs: Any) -> bool:
        """Run a writer action; on an OSError give up the open file and pause writing for a while."""
        try:
            action(*args, **kwargs)
            return True
        except OSError as error:
            self._on_io_error(error)
            return False

    def _on_io_error(self, error: OSError) -> None:
        message = f"{self.bag_dir}: {error.strerror or error} ({type(error).__name__})"
        _log.error("recording paused, retrying in %.1f s: %s", self.config.retry_interval_s, message)
        with self._cond:
            self._io_errors += 1
            self._last_error = message
            self._failed_until = time.monotonic() + self.config.retry_interval_s
        try:
            lost = self._writer.abandon_file()
        except OSError:
            return  # nothing more can be saved now; the files already closed are untouched
        with self._cond:  # written to the broken file's open chunk, never reached the disk
            self._written.subtract(lost)
            self._dropped_io.update(lost)

    def _sync(self, fsync: bool) -> None:
        self._writer.custom_data.update(self._drop_report())
        if fsync:
            self._writer.fsync()
        else:
            self._writer.flush()

    def _drop_report(self) -> dict[str, str]:
        with self._cond:
            return {
                "mmfusion.dropped_queue": json.dumps(dict(self._dropped_queue), sort_keys=True),
                "mmfusion.dropped_io": json.dumps(dict(self._dropped_io), sort_keys=True),
            }

    def _finish(self) -> None:
        self._writer.custom_data.update(self._drop_report())
        if not self._guarded(self._writer.close):
            self._guarded(self._writer.close)  # after abandon_file only the metadata is left to write
