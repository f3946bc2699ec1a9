"""The static frame tree of a rig: every frame hangs from a parent and reaches the base frame.

Each frame's pose in the base frame is composed once at load time, so a look-up between any two
frames is one 4x4 inverse and one product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mmfusion_annotate.errors import RigError


@dataclass(frozen=True)
class FrameEdge:
    """``child`` sits in ``parent`` at ``T`` (p_parent = T @ p_child); ``key`` locates it in the file."""

    parent: str
    T: np.ndarray
    key: str


class FrameTree:
    """Validated tree of static transforms rooted at ``base_frame``."""

    def __init__(self, base_frame: str, edges: Mapping[str, FrameEdge], source: str | None = None) -> None:
        self.base_frame = base_frame
        self._edges = dict(edges)
        if base_frame in self._edges:
            raise RigError(
                f"the base frame '{base_frame}' cannot have a parent",
                file=source,
                key=self._edges[base_frame].key,
            )
        self._in_base: dict[str, np.ndarray] = {base_frame: np.eye(4)}
        for frame in self._edges:
            self._resolve(frame, source)

    def _resolve(self, frame: str, source: str | None) -> np.ndarray:
        chain: list[str] = []
        current = frame
        while current not in self._in_base:
            if current in chain:
                loop = " -> ".join([*chain[chain.index(current) :], current])
                raise RigError(f"frame tree has a loop: {loop}", file=source, key=self._edges[frame].key)
            edge = self._edges.get(current)
            if edge is None:
                raise RigError(
                    f"frame '{frame}' does not reach '{self.base_frame}': "
                    f"parent frame '{current}' is not defined",
                    file=source,
                    key=self._edges[chain[-1]].key,
                )
            chain.append(current)
            current = edge.parent
        for child in reversed(chain):
            edge = self._edges[child]
            self._in_base[child] = self._in_base[edge.parent] @ edge.T
        return self._in_base[frame]

    @property
    def frames(self) -> tuple[str, ...]:
        """All frames, base first."""
        return tuple(self._in_base)

    def parent(self, frame: str) -> str | None:
        """Parent of ``frame`` (None for the base frame)."""
        self._check(frame)
        edge = self._edges.get(frame)
        return edge.parent if edge else None

    def in_base(self, frame: str) -> np.ndarray:
        """Pose of ``frame`` in the base frame (p_base = T @ p_frame), a fresh copy."""
        self._check(frame)
        return self._in_base[frame].copy()

    def transform(self, target_frame: str, source_frame: str) -> np.ndarray:
        """4x4 float64 T with p_target = T @ p_source."""
        self._check(target_frame)
        self._check(source_frame)
        if target_frame == source_frame:
            return np.eye(4)
        return np.linalg.inv(self._in_base[target_frame]) @ self._in_base[source_frame]

    def _check(self, frame: str) -> None:
        if frame not in self._in_base:
            raise RigError(f"unknown frame '{frame}' (known: {', '.join(self._in_base)})")
