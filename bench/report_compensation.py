"""Report: pixel and 3D error of projected points with and without motion compensation.

Static world, exact truth (see ``mmfusion_annotate.fusion.measure``), default nuScenes-like rig
(6 cameras, exposures spread over the 100 ms sweep).

    .venv/bin/python bench/report_compensation.py
"""

from __future__ import annotations

from mmfusion_annotate.fusion.measure import measure_compensation
from mmfusion_annotate.rig import default_rig_path, load_rig

CASES = [(10.0, 0.0), (30.0, 0.0), (0.0, 0.3), (10.0, 0.3), (30.0, 0.3)]


def main() -> None:
    rig = load_rig(default_rig_path())
    print(
        f"{'speed m/s':>9} {'yaw rad/s':>9} | {'px without':>10} {'px with':>9} {'gain':>8} | "
        f"{'m without':>9} {'m with':>9}"
    )
    for speed, yaw_rate in CASES:
        r = measure_compensation(rig, speed, yaw_rate)
        print(
            f"{speed:9.1f} {yaw_rate:9.2f} | {r.pixel_without:10.3f} {r.pixel_with:9.5f} "
            f"{r.pixel_without / r.pixel_with:7.0f}x | {r.metres_without:9.4f} {r.metres_with:9.6f}"
        )
    print("median over points seen by the cameras (pixels) and over the sweep (metres)")


if __name__ == "__main__":
    main()
