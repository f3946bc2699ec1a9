"""The Annotator's stream handling: restarts when time goes back, edge-check camera selection."""

import pytest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import ConfigError
from mmfusion_annotate.sim import Drive, SimConfig, load_scenario
from mmfusion_annotate.types import SensorSample, seconds_to_ns


@pytest.fixture(scope="module")
def samples(rig):
    scenario = load_scenario("calm").model_copy(update={"duration_s": 1.2})
    drive = Drive(rig, scenario, image_format="raw",
                  config=SimConfig(sensors=("lidar_top", "imu", "odometry", "cam_front")))
    return list(drive.samples())


def _run(annotator, samples):
    return sum(len(annotator.feed(s).frames) for s in samples)


@pytest.mark.slow
def test_a_looped_stream_restarts_the_pipeline_and_fuses_the_second_pass_alike(rig, samples):
    annotator = Annotator(rig, PipelineConfig(alignment_every=1000))
    first = _run(annotator, samples) + len(annotator.finish().frames)
    back = seconds_to_ns(30.0)  # as a looped bag: every stamp, per-point times included, goes back
    shifted = [SensorSample(s.sensor, s.stamp - back,
                            {k: v - back if k == "t_ns" else v for k, v in s.payload.items()}, s.message)
               for s in samples]  # fmt: skip
    second = _run(annotator, shifted) + len(annotator.finish().frames)
    assert annotator.resets == 1 and first > 0 and second == first


def test_a_late_message_of_another_sensor_is_no_restart(rig, samples):
    annotator = Annotator(rig, PipelineConfig(alignment_every=1000))
    odometry = [s for s in samples if s.sensor == "odometry"]
    imu = [s for s in samples if s.sensor == "imu"]
    annotator.feed(odometry[-1])  # 1.2 s in: the imu below arrives late, but its own time goes forward
    annotator.feed(imu[0])
    annotator.feed(imu[1])
    assert annotator.resets == 0


def test_alignment_cameras_must_be_cameras_of_the_rig(rig):
    with pytest.raises(ConfigError, match="alignment_cameras"):
        Annotator(rig, PipelineConfig(alignment_cameras=["lidar_top"]))


def test_a_straggler_of_the_old_stream_after_a_restart_is_ignored(rig, samples):
    annotator = Annotator(rig, PipelineConfig(alignment_every=1000))
    imu = [s for s in samples if s.sensor == "imu"]
    odometry = [s for s in samples if s.sensor == "odometry"]
    back = seconds_to_ns(30.0)
    annotator.feed(odometry[-1])
    annotator.feed(imu[-1])
    annotator.feed(SensorSample("imu", imu[0].stamp - back, imu[0].payload))  # the loop starts again:
    assert annotator.resets == 0  # held, one input alone going back may be a glitch
    annotator.feed(SensorSample("odometry", odometry[0].stamp - back, odometry[0].payload))
    assert annotator.resets == 1  # a second input agrees: the whole clock went back
    # odometry's second-to-last message of the old pass arrives late: taken for a jump forward, it
    # would make every later message look far behind
    annotator.feed(odometry[-2])
    annotator.feed(SensorSample("odometry", odometry[1].stamp - back, odometry[1].payload))
    assert annotator.resets == 1 and annotator.counters.ignored_samples == 1
    assert annotator.drops.snapshot() == {"stamp_far_future.odometry": 1}


def test_a_warm_up_converts_an_image_to_lab_once(rig, monkeypatch):
    """OpenCV builds its Lab tables at the first RGB->Lab conversion (50-150 ms): the warm-up does it."""
    import cv2

    from mmfusion_annotate.prelabel import evidence

    codes = []
    real = cv2.cvtColor
    monkeypatch.setattr(evidence.cv2, "cvtColor", lambda src, code: codes.append(code) or real(src, code))
    Annotator(rig, PipelineConfig()).warm_up()
    assert cv2.COLOR_RGB2LAB in codes


def test_a_warm_up_leaves_the_stream_state_alone(rig, samples):
    """The node warms the kernels up before it subscribes; whenever it runs, no frame may change."""
    plain, warmed = (Annotator(rig, PipelineConfig(alignment_every=1000)) for _ in range(2))

    def labels(annotator, warm_up_at=None):
        frames = []
        for i, sample in enumerate(samples):
            if i == warm_up_at:
                assert annotator.warm_up() > 0
            frames += annotator.feed(sample).frames
        return [(f.frame.stamp, f.labels) for f in frames + annotator.finish().frames]

    expected = labels(plain)
    assert expected and any(result.cuboids for _, result in expected)
    assert labels(warmed, warm_up_at=len(samples) // 2) == expected and warmed.counters == plain.counters
