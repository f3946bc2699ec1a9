"""Simulator harness for the event tests: observations from a synthetic drive.

Driving rules read ground-truth tracks (the simulator's object truth at 10 Hz) so these tests do not
depend on the pre-labeller's quality; the ego state comes from the simulated IMU and odometry through
``SampleFeed``, exactly as live.
"""

from __future__ import annotations

import heapq

from mmfusion_annotate.events import TrackedObject, TrackFrame
from mmfusion_annotate.events.feed import SampleFeed
from mmfusion_annotate.sim import Drive, SimConfig
from mmfusion_annotate.types import seconds_to_ns

TRACKED_CLASSES = ("car", "truck", "bus", "pedestrian", "cyclist")
TRACK_RATE_HZ = 10.0


def truth_tracks(drive: Drive):
    """Ground-truth TrackFrames at 10 Hz (moving and parked road users; poles and walls are not tracked)."""
    period = seconds_to_ns(1.0 / TRACK_RATE_HZ)
    for stamp in range(period // 2, drive.duration_ns, period):
        objects = tuple(
            TrackedObject(o.id, o.cls, (float(o.center_base[0]), float(o.center_base[1])),
                          (float(o.velocity_base[0]), float(o.velocity_base[1])), (o.size[0], o.size[1]))
            for o in drive.truth.objects(stamp) if o.cls in TRACKED_CLASSES
        )
        yield TrackFrame(stamp, objects)


def observations(rig, rules, scenario, *, sensors=("imu", "odometry"), faults=None, seed=None,
                 tracks=True, alignment_cameras=(), alignment_every=1):
    """Time-ordered observations of a simulated drive (only the listed sensors are simulated)."""
    drive = Drive(rig, scenario, faults=faults, seed=seed, config=SimConfig(sensors=tuple(sensors)))
    feed = SampleFeed(rig, rules, alignment_cameras=alignment_cameras, alignment_every=alignment_every)
    from_samples = ((s.stamp, 0, obs) for s in drive.samples() for obs in feed.feed(s))
    from_tracks = ((f.stamp, 1, f) for f in truth_tracks(drive)) if tracks else iter(())
    merged = heapq.merge(from_samples, from_tracks, key=lambda item: (item[0], item[1]))
    return drive, [obs for _, _, obs in merged]
