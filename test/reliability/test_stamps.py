"""The pipeline recovers from any stamp: one input's far stamp is rejected and counted, resetting nothing;
a jump of the whole clock is still followed (issue 26)."""

import pytest

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.sync.stamp_gate import FAR_FUTURE, FAR_PAST, StampGate
from mmfusion_annotate.types import SensorSample, seconds_to_ns

S = seconds_to_ns(1.0)
GAP = (seconds_to_ns(2.0), seconds_to_ns(3.5))  # 1.5 s without any message


def _frames(annotator, samples):
    frames = [f for s in samples for f in annotator.feed(s).frames] + annotator.finish().frames
    return [(f.frame.stamp, sorted(t.object_id for t in f.labels.tracks)) for f in frames]


def _with_gap(samples):
    return [s for s in samples if not GAP[0] <= s.stamp < GAP[1]]


def _bad_index(samples, sensor):
    return next(i for i, s in enumerate(samples) if s.sensor == sensor and s.stamp > S)  # first after 1 s


def _bad_stamp(samples, sensor, shift_ns):
    """The stream with one message of ``sensor`` restamped by ``shift_ns``."""
    index = _bad_index(samples, sensor)
    bad = samples[index]
    moved = {k: v + shift_ns if k == "t_ns" else v for k, v in bad.payload.items()}
    return [*samples[:index], SensorSample(bad.sensor, bad.stamp + shift_ns, moved), *samples[index + 1:]]


_WITHOUT: dict[str, list] = {}


def _without(rig, samples, sensor):
    """Frames of the gapped drive without that one message: what a rejected stamp must leave."""
    if sensor not in _WITHOUT:
        index = _bad_index(samples, sensor)
        _WITHOUT[sensor] = _frames(Annotator(rig, PipelineConfig()), samples[:index] + samples[index + 1:])
    return _WITHOUT[sensor]


def test_a_gap_alone_is_recovered_from(rig, drive_samples):
    frames = _frames(Annotator(rig, PipelineConfig()), _with_gap(drive_samples))
    assert len([stamp for stamp, _ in frames if stamp >= GAP[1]]) >= 3


@pytest.mark.parametrize("sensor", ["imu", "lidar_top", "odometry"])
@pytest.mark.parametrize(("shift_s", "reason"), [(1e6, FAR_FUTURE), (-1e6, FAR_PAST), (5.0, FAR_FUTURE)])
def test_one_far_stamp_is_rejected_for_its_input_and_changes_no_other_frame_or_track(
    rig, drive_samples, sensor, shift_s, reason
):
    """Before: a far stamp on any sensor restarted the pipeline (every track and event closed), and with
    a later 1.5 s gap no frame came ever after. Now it is as if that one message had not arrived."""
    samples = _with_gap(drive_samples)
    annotator = Annotator(rig, PipelineConfig())
    frames = _frames(annotator, _bad_stamp(samples, sensor, seconds_to_ns(shift_s)))
    assert frames == _without(rig, samples, sensor)  # frames after the gap too, with the same tracks
    assert len([stamp for stamp, _ in frames if stamp >= GAP[1]]) >= 3
    assert annotator.resets == 0
    assert annotator.drops.snapshot() == {f"{reason}.{sensor}": 1}


def test_the_whole_clock_jumping_back_restarts_once_and_fuses_the_second_pass_alike(rig, drive_samples):
    samples = drive_samples[: len(drive_samples) // 2]
    annotator = Annotator(rig, PipelineConfig())
    first = _frames(annotator, samples)
    back = seconds_to_ns(30.0)  # as a looped bag: every stamp goes back
    looped = [SensorSample(s.sensor, s.stamp - back, {k: v - back if k == "t_ns" else v
                                                       for k, v in s.payload.items()}) for s in samples]
    second = _frames(annotator, looped)
    assert annotator.resets == 1 and annotator.drops.snapshot() == {}
    assert [stamp - back for stamp, _ in first] == [stamp for stamp, _ in second]


def test_the_whole_clock_jumping_forward_is_followed_without_a_restart(rig, drive_samples):
    ahead = seconds_to_ns(1e5)  # a time source reset forward, every sensor at once
    shifted = [s if s.stamp < GAP[0] else
               SensorSample(s.sensor, s.stamp + ahead, {k: v + ahead if k == "t_ns" else v
                                                        for k, v in s.payload.items()})
               for s in _with_gap(drive_samples)]  # fmt: skip
    annotator = Annotator(rig, PipelineConfig())
    frames = _frames(annotator, shifted)
    assert annotator.resets == 0 and annotator.drops.snapshot() == {}
    assert len([stamp for stamp, _ in frames if stamp >= GAP[1] + ahead]) >= 3


def test_a_lone_input_follows_its_own_clock_after_a_gap():
    gate: StampGate[int] = StampGate(S, 2 * S)
    released = [n for t in (0, 10, 20) for _, _, n in gate.offer("imu", t * S // 100, t).released]
    released += [n for t in (500, 501, 502, 503) for _, _, n in gate.offer("imu", t * S // 100, t).released]
    assert released == [0, 10, 20, 500, 501, 502, 503]  # held until three agree, then all go through


def test_a_straggler_of_the_stream_before_a_restart_is_rejected_not_taken_for_a_jump():
    rejected = []
    gate: StampGate[str] = StampGate(S, 2 * S, on_reject=lambda name, reason: rejected.append((name, reason)))
    for t in range(0, 100, 5):
        for name in ("imu", "lidar"):
            gate.offer(name, seconds_to_ns(30 + t / 100), name)
    assert not gate.offer("imu", 0, "imu").restart  # held: the imu alone going back
    assert gate.offer("lidar", S // 100, "lidar").restart  # a second input agrees: the clock went back
    late = gate.offer("odometry", seconds_to_ns(30.9), "odometry")  # sent before the loop, arrived after
    assert late.released == [] and rejected == [("odometry", FAR_FUTURE)]
    assert [n for _, _, n in gate.offer("odometry", S // 50, "odometry").released] == ["odometry"]


def test_two_sensors_glitching_alike_cost_a_restart_and_the_stream_comes_back():
    """Two glitches agreeing read as a jump of the clock back; the next messages of the others undo it
    (no sensor is left waiting for the old stream, the way a window of 'late messages' would leave it)."""
    gate: StampGate[str] = StampGate(S, 2 * S)
    names = ("imu", "odometry", "lidar", "camera")
    for t in range(100):
        for name in names:
            gate.offer(name, 100 * S + t * S // 100, name)
    glitch = [gate.offer("imu", 50 * S, "imu"), gate.offer("odometry", 50 * S, "odometry")]
    assert glitch[1].restart  # taken for a jump back of the whole clock
    later = [gate.offer(name, 101 * S + k * S // 100, name) for k in range(1, 4) for name in names]
    assert [n for v in later[4:] for _, _, n in v.released] == list(names) * 2  # the stream is back
    assert gate.clock == 101 * S + 3 * S // 100


def test_a_sweep_stamped_a_little_back_is_out_of_order_for_the_sync_and_clears_nothing(rig, drive_samples):
    """1.5 s back is within what a lagging topic may show (not far): the synchronizer drops that one sweep
    as out of order, and keeps its queued candidates (it used to reset itself past 1 s)."""
    samples = _with_gap(drive_samples)
    annotator = Annotator(rig, PipelineConfig())
    frames = _frames(annotator, _bad_stamp(samples, "lidar_top", -seconds_to_ns(1.5)))
    assert frames == _without(rig, samples, "lidar_top")
    stats = annotator.sync.stats
    lidar = stats.inputs[stats.names.index("lidar_top")]
    assert stats.resets == 0 and lidar.out_of_order == 1 and annotator.drops.snapshot() == {}
