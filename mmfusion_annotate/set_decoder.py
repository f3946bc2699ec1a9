"""A synced set's lazily decoded images, decoded side by side before the set is fused.

Live, ``fusion_node`` keeps camera images compressed until the pipeline needs them (``nodes.lazy_sample``).
Decoding the images of a set one after another kept the pipeline thread busy (six 1600x900 JPEGs on the
default rig). simplejpeg releases the GIL while it decodes, so helper threads decode some images while the
pipeline thread decodes the others, in about half the time (``bench/bench_decode.py``; figures:
bench/RESULTS.md, docstring figures). The threads take the images from one shared list, so a helper the
scheduler starts late costs nothing: the pipeline thread takes what is left, and a helper that has not started
by then is cancelled rather than waited for. Helpers run at the pipeline's priority, since the frame at hand
waits for them. A payload that is already decoded (replay decodes eagerly) costs nothing to touch, and the
result is the same whichever thread decodes an image. ``prefetch`` lets a node that fell behind decode the
next queued set on the helpers while the pipeline thread fuses the current one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from mmfusion_annotate.errors import CodecError
from mmfusion_annotate.types import SensorSample


class SetDecoder:
    """Makes a set's payloads usable on ``threads`` threads: the caller's and ``threads - 1`` helpers."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"decode threads must be >= 1 (got {threads})")
        self._helpers = threads - 1
        self._pool = ThreadPoolExecutor(max(self._helpers, 1), thread_name_prefix="mmfusion-decode")

    def decode(self, samples: Mapping[str, SensorSample | None]) -> dict[str, CodecError]:
        """Decode the samples' payloads; returns the samples whose payload could not be decoded."""
        todo = _todo(samples)  # shared by the threads: each item is taken once
        failed: dict[str, CodecError] = {}
        helpers = [self._pool.submit(_decode_from, todo, failed) for _ in range(self._helpers)]
        _decode_from(todo, failed)
        for helper in helpers:
            if not helper.cancel():  # one that started is decoding an image the set needs: wait for it
                helper.result()
        return failed

    def prefetch(self, samples: Mapping[str, SensorSample | None]) -> None:
        """Start decoding a set that waits behind the one at hand, on the helpers (no-op without any).

        When sets queue up, the next set's images are then decoded while the pipeline thread fuses the
        current one. A failure is not kept: a broken lazy payload raises again when the set is decoded.
        """
        todo = _todo(samples)
        for _ in range(self._helpers):
            self._pool.submit(_decode_from, todo, {})


def _todo(samples: Mapping[str, SensorSample | None]) -> Iterator[tuple[str, SensorSample]]:
    """The samples to decode, as one iterator over a list (``next`` on it is atomic under the GIL)."""
    return iter([(name, sample) for name, sample in samples.items() if sample is not None])


def _decode_from(todo: Iterator[tuple[str, SensorSample]], failed: dict[str, CodecError]) -> None:
    """Decode the items taken from ``todo`` until none is left; the ones that fail go into ``failed``."""
    for name, sample in todo:
        try:
            for _ in sample.payload.values():  # a lazy payload decodes on first access
                pass
        except CodecError as exc:
            failed[name] = exc
