"""The colour of each sweep point from the nearest camera that sees it, in one pass without the GIL.

``FusedFrame.colored_points`` feeds the coloured cloud that ``fusion_node`` publishes and records every
frame. Done with numpy masks and fancy indexing it held the GIL for milliseconds a frame (figures:
bench/RESULTS.md, docstring figures), on the thread that publishes while the pipeline thread waits for
the GIL; this kernel releases it (``nogil``) and reads each camera's hits once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _nearest(n_points, index, depth, visible, colors):  # pragma: no cover - compiled
    best = np.full(n_points, np.inf, dtype=np.float32)
    hit = np.full(n_points, -1, dtype=np.int64)  # which hit colours the point
    for k in range(len(index)):
        if visible[k] and depth[k] < best[index[k]]:  # strictly nearer: the earlier camera keeps a tie
            best[index[k]] = depth[k]
            hit[index[k]] = k
    count = 0
    for i in range(n_points):
        count += hit[i] >= 0
    points = np.empty(count, dtype=np.int64)
    out = np.empty((count, 3), dtype=np.uint8)
    j = 0
    for i in range(n_points):
        if hit[i] >= 0:
            points[j] = i
            out[j] = colors[hit[i]]
            j += 1
    return points, out


def nearest_colors(n_points: int, views: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(sweep indices, RGB uint8) of the points visible in any of ``views`` (``CameraView``s, in order);
    each takes the colour of the view with the smallest depth for it (the first one on a tie)."""
    if not views:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.uint8)
    return _nearest(
        n_points,
        np.concatenate([v.index for v in views]),
        np.concatenate([v.depth for v in views]),
        np.concatenate([v.visible for v in views]),
        np.concatenate([v.colors for v in views]),
    )
