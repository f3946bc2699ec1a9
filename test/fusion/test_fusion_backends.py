"""Every backend agrees with the reference: 1e-3 px, identical visibility, same colours."""

import numpy as np
import pytest
from fusion_scene import render, scan_scene

from mmfusion_annotate.errors import BackendError
from mmfusion_annotate.fusion import FusionConfig, FusionPipeline, XpBackend, make_backend, sampled_track
from mmfusion_annotate.fusion.fast_cpu import NumbaBackend, image_box
from mmfusion_annotate.fusion.measure import arc_pose
from mmfusion_annotate.rig import rig_from_dict
from mmfusion_annotate.types import SensorSample
from mmfusion_annotate.xp import cuda_available

CAMERAS = ("front", "left", "right")  # plumb_bob, rational_polynomial, equidistant


class ArcEgo:
    """Truth ego motion at 30 m/s and 0.3 rad/s, as an EgoMotionSource."""

    def pose(self, stamp):
        return arc_pose(stamp, 30.0, 0.3)

    def twist(self, stamp):
        return np.array([30.0, 0, 0]), np.array([0, 0, 0.3])

    def track(self, start, end):
        return sampled_track(self, start, end, 10_000_000)


@pytest.fixture(scope="module")
def samples(small_rig):
    xyz, _ = scan_scene()
    rng = np.random.default_rng(0)
    noisy = xyz + rng.normal(0, 0.5, xyz.shape).astype(np.float32)  # more variety than the clean scene
    # sorted capture times, a third of them shared with the previous point (a firing of several beams)
    t_ns = np.sort(rng.integers(0, 100_000_000, len(noisy)))
    shared = rng.random(len(t_ns)) < 1 / 3
    shared[0] = False
    t_ns = t_ns[np.maximum.accumulate(np.where(shared, 0, np.arange(len(t_ns))))]
    out = {"lidar": SensorSample("lidar", 50_000_000, {"xyz": noisy, "t_ns": t_ns})}
    for k, name in enumerate(CAMERAS):
        out[name] = SensorSample(name, 20_000_000 + 30_000_000 * k, {"image": render(small_rig, name)})
    return out


@pytest.mark.parametrize("sampling", ["bilinear", "nearest"])
@pytest.mark.parametrize("compensate", [True, False])
def test_fast_cpu_agrees_with_the_reference(small_rig, samples, sampling, compensate):
    config = FusionConfig(motion_compensation=compensate, color_sampling=sampling)
    reference = FusionPipeline(small_rig, config, XpBackend(np, "reference")).fuse(samples, ArcEgo())
    fast = FusionPipeline(small_rig, config, NumbaBackend()).fuse(samples, ArcEgo())
    assert fast.backend == "cpu" and reference.backend == "reference"
    np.testing.assert_allclose(fast.sweep.xyz, reference.sweep.xyz, atol=1e-5)
    np.testing.assert_allclose(fast.sweep.xyz_deskewed, reference.sweep.xyz_deskewed, atol=1e-5)
    for name in CAMERAS:
        a, b = reference.cameras[name], fast.cameras[name]
        assert len(a.index) > 1000, name
        np.testing.assert_array_equal(a.index, b.index, err_msg=name)
        assert np.abs(a.uv.astype(np.float64) - b.uv).max() < 1e-3, name
        np.testing.assert_allclose(a.depth, b.depth, rtol=1e-6)
        np.testing.assert_array_equal(a.visible, b.visible, err_msg=name)
        assert np.abs(a.colors.astype(int) - b.colors).max() <= 1, name


def test_backend_selection_falls_back_without_a_gpu(caplog):
    caplog.set_level("INFO")
    backend = make_backend("auto")
    if cuda_available():
        assert backend.name == "cuda"
    else:
        assert backend.name == "cpu"
        assert "fast CPU" in caplog.text
        with pytest.raises(BackendError, match="no CUDA device"):
            make_backend("cuda")
    with pytest.raises(BackendError):
        make_backend("tpu")


@pytest.mark.parametrize("name", CAMERAS)
def test_image_box_holds_every_ray_that_lands_in_the_image(small_rig, name):
    model = small_rig.sensor(name).camera
    box = image_box(model)
    rng = np.random.default_rng(3)
    # directions over the whole valid field of view, and the image's own pixels' rays
    theta = rng.uniform(0, min(model.theta_max, np.radians(89.0)), 400_000)
    phi = rng.uniform(-np.pi, np.pi, len(theta))
    rays = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    uv, _, valid = model.project(rays, np)
    inside = valid & (uv[:, 0] >= 0) & (uv[:, 0] < model.width) & (uv[:, 1] >= 0) & (uv[:, 1] < model.height)
    assert inside.sum() > 1000
    hit = rays[inside]
    x, y = hit[:, 0] / hit[:, 2], hit[:, 1] / hit[:, 2]
    if np.isfinite(box).all():
        assert (x >= box[0]).all() and (x <= box[1]).all() and (y >= box[2]).all() and (y <= box[3]).all()
        culled = (rays[:, 0] < box[0] * rays[:, 2]) | (rays[:, 0] > box[1] * rays[:, 2])
        # a pinhole camera's box is tight; a fisheye's sees nearly everything in front anyway
        assert culled.mean() > (0.1 if model.distortion_model != "equidistant" else 0.0), "culls nothing"
    else:
        assert model.distortion_model == "equidistant"  # a fisheye seeing to 90 degrees: no box


def test_serial_and_parallel_kernels_give_the_same_frame(small_rig, samples):
    """``kernel_threads`` 1 runs serial builds, more the parallel kernels: the frames are identical (each
    camera's z-buffer is filled by one thread, every hit tested on its own)."""
    config = FusionConfig()
    one = FusionPipeline(small_rig, config, NumbaBackend(threads=1)).fuse(samples, ArcEgo())
    two = FusionPipeline(small_rig, config, NumbaBackend(threads=2)).fuse(samples, ArcEgo())
    np.testing.assert_array_equal(one.sweep.xyz_deskewed, two.sweep.xyz_deskewed)
    for name in CAMERAS:
        a, b = one.cameras[name], two.cameras[name]
        for field in ("index", "uv", "depth", "visible", "colors"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=f"{name} {field}")


_IDLE_TEAM_CPU = """
import sys, time
import numpy as np
from mmfusion_annotate.library_threads import let_openmp_teams_sleep
let_openmp_teams_sleep()  # what the entry points do first
from mmfusion_annotate.fusion.fast_cpu import NumbaBackend
from mmfusion_annotate.fusion import FusionConfig
from mmfusion_annotate.fusion.backends import CameraJob
from mmfusion_annotate.rig import default_rig_path, load_rig

rig = load_rig(default_rig_path())
camera = rig.cameras()[0]
points = np.random.default_rng(0).uniform(-30, 30, (200_000, 3))
job = CameraJob(camera.name, camera.camera, rig.transform(camera.frame_id, rig.lidars()[0].frame_id), None)
backend = NumbaBackend(threads=2)
idle = []
for _ in range(5):
    backend.project(points, np.eye(4), np.zeros(len(points), np.int64), None, [job], FusionConfig())
    start = time.process_time()
    time.sleep(0.2)  # the pipeline thread between frames: only the team could use CPU now
    idle.append(time.process_time() - start)
print(min(idle[1:]))
"""


def _idle_team_cpu(wait_policy: str | None) -> float:
    """CPU seconds the process spends in 0.2 s of sleep right after a 2-thread projection."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if wait_policy is not None:
        env["OMP_WAIT_POLICY"] = wait_policy
    out = subprocess.run([sys.executable, "-c", _IDLE_TEAM_CPU], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.split()[-1])


def test_the_kernels_team_sleeps_between_frames():
    """The entry points ask OpenMP for a passive team: after a frame's kernels nothing runs until the
    next one.
    The same measure with an ACTIVE team (set by the user, so kept) shows the spinning it avoids."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba runs one thread here: no team to spin")
    assert _idle_team_cpu(None) < 0.02
    assert _idle_team_cpu("ACTIVE") > 0.1


def test_one_thread_projects_on_the_calling_thread_alone(small_rig, samples):
    """``kernel_threads: 1``: no worker threads beside the pipeline thread. numba's thread count belongs to
    the calling thread, so a limit set where the backend was built did not reach the node's pipeline
    thread, whose kernels then started an OpenMP team of their own (spinning beside the others)."""
    import os
    import threading

    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba runs one thread here: there is nothing to limit")
    FusionPipeline(small_rig, FusionConfig(), NumbaBackend(threads=2)).fuse(samples, ArcEgo())  # layer up
    pipeline = FusionPipeline(small_rig, FusionConfig(kernel_threads=1), make_backend("cpu", threads=1))
    pipeline.fuse(samples, ArcEgo())  # compiled (or loaded) here, not in the measured thread
    started: list[int] = []

    def worker() -> None:
        before = len(os.listdir("/proc/self/task"))
        pipeline.fuse(samples, ArcEgo())
        started.append(len(os.listdir("/proc/self/task")) - before)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert started == [0]


def test_a_thread_count_beyond_numba_is_refused():
    import numba

    with pytest.raises(ValueError, match="threads must be"):
        NumbaBackend(threads=numba.config.NUMBA_NUM_THREADS + 1)


def test_read_only_images_beside_writable_ones(small_rig, samples):
    """Raw images arrive as read-only views of the message buffer, JPEGs decode writable: one frame may
    hold both, which numba would type as a tuple of two array types it cannot index."""
    mixed = dict(samples)
    image = samples["front"].payload["image"].copy()
    image.setflags(write=False)
    mixed["front"] = SensorSample("front", samples["front"].stamp, {"image": image})
    config = FusionConfig()
    reference = FusionPipeline(small_rig, config, XpBackend(np, "reference")).fuse(mixed, ArcEgo())
    fast = FusionPipeline(small_rig, config, NumbaBackend()).fuse(mixed, ArcEgo())
    for name in CAMERAS:
        np.testing.assert_array_equal(reference.cameras[name].index, fast.cameras[name].index)
        np.testing.assert_array_equal(reference.cameras[name].colors, fast.cameras[name].colors)


@pytest.mark.parametrize("backend", [NumbaBackend(), XpBackend(np, "reference")], ids=["cpu", "reference"])
def test_a_point_rounding_onto_the_far_border_reads_the_border_pixel(backend):
    """A hit just inside the image in float64 can round to u == width (or v == height) when stored as
    float32; bilinear sampling then read one pixel past the border: the next row's first pixel, or past
    the end of the image buffer (a segfault when that page was unmapped, as a soak found)."""
    width, height, f, depth = 80, 40, 60.0, 10.0
    rig = rig_from_dict({"name": "edge", "sensors": [
        {"name": "cam", "kind": "camera", "topic": "/cam/image_raw", "frame_id": "cam_optical",
         "rate_hz": 10.0, "extrinsic": {"parent": "base_link", "rpy_deg": [-90.0, 0.0, -90.0]},
         "camera": {"width": width, "height": height, "K": [f, 0, width / 2, 0, f, height / 2, 0, 0, 1],
                    "distortion_model": "plumb_bob", "D": [0.0] * 5}},
        {"name": "lidar", "kind": "lidar", "topic": "/lidar/points", "frame_id": "lidar", "rate_hz": 10.0,
         "lidar": {"beams": 1, "vertical_range_deg": [0.0, 0.0], "azimuth_resolution_deg": 0.2}},
    ]})  # fmt: skip
    eps = np.linspace(-2e-3, 2e-3, 4001)  # pixels around the border, finer than float32's step there
    right = np.stack([np.full_like(eps, depth), -(width / 2 + eps) * depth / f, np.zeros_like(eps)], 1)
    bottom = np.stack([np.full_like(eps, depth), np.zeros_like(eps), -(height / 2 + eps) * depth / f], 1)
    xyz = np.concatenate([right, bottom]).astype(np.float32)
    padded = np.full((height + 1, width + 1, 3), 255, np.uint8)  # a white row and column past the border
    padded[:height, :width] = 0
    samples = {
        "lidar": SensorSample("lidar", 0, {"xyz": xyz, "t_ns": np.zeros(len(xyz), np.int64)}),
        "cam": SensorSample("cam", 0, {"image": padded[:height, :width]}),
    }
    config = FusionConfig(motion_compensation=False, color_sampling="bilinear")
    view = FusionPipeline(rig, config, backend).fuse(samples, None).cameras["cam"]
    assert (view.uv[:, 0] == width).any() and (view.uv[:, 1] == height).any()  # the case is exercised
    assert view.visible.all() and not view.colors.any()
    depth_image = view.sparse_depth()  # indexes by the stored uv too
    assert depth_image[:, -1].max() == depth_image[-1].max() == pytest.approx(depth)
