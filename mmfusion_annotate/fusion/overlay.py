"""Overlay PNGs: the points of a fused frame coloured by depth over each camera image, for a person."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mmfusion_annotate.fusion.frame import CameraView, FusedFrame


def depth_overlay(view: CameraView, *, max_depth_m: float = 60.0, radius: int = 2) -> np.ndarray:
    """RGB image with every visible point drawn as a dot, near = red ... far = blue (turbo colormap)."""
    if view.image is None:
        canvas = np.zeros((view.height, view.width, 3), dtype=np.uint8)
    else:
        canvas = np.ascontiguousarray(view.image[..., :3]).copy()
    depth = view.depth[view.visible]
    uv = view.uv[view.visible]
    scale = np.clip(255.0 * (1.0 - depth / max_depth_m), 0, 255).astype(np.uint8)
    colors = cv2.applyColorMap(scale[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]  # BGR -> RGB
    for order in np.argsort(-depth):  # far first, so near points stay on top
        u, v = (int(c) for c in np.floor(uv[order] + 0.5))
        cv2.circle(canvas, (u, v), radius, tuple(int(c) for c in colors[order]), -1, lineType=cv2.LINE_AA)
    return canvas


def write_overlays(frame: FusedFrame, out_dir: str | Path, *, max_depth_m: float = 60.0, radius: int = 2
                   ) -> list[Path]:
    """One ``<camera>_<stamp>.png`` per camera view of ``frame``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, view in frame.cameras.items():
        path = out / f"{name}_{frame.stamp}.png"
        if not cv2.imwrite(str(path), depth_overlay(view, max_depth_m=max_depth_m, radius=radius)[..., ::-1]):
            raise OSError(f"{path}: cannot write PNG")
        paths.append(path)
    return paths
