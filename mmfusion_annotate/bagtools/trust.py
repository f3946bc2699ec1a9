"""What ``mmfusion evaluate BAG`` needs to judge a bag's review items and events (``trust_eval``).

The review items come back from the ``/prelabels/review`` metadata, the events from ``/events``; the
simulator's scripted events and injected faults from its record in ``metadata.yaml`` (``custom_data``),
of the bag itself or of the bag ``mmfusion replay`` read; the truth tagger's events from the truth
frames (as tracks) and the bag's own IMU and odometry (as ego states), as the live chain would see them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmfusion_annotate.bagtools.events import topic_events
from mmfusion_annotate.bagtools.source import open_bag
from mmfusion_annotate.events import EgoKinematics, EventTagger, TrackedObject, TrackFrame
from mmfusion_annotate.events.config import load_rules
from mmfusion_annotate.events.feed import SampleFeed
from mmfusion_annotate.outputs.labels import read_review_items
from mmfusion_annotate.recording.metadata import read_metadata
from mmfusion_annotate.sim.bag import TRUTH_KEY
from mmfusion_annotate.trust_eval import FaultSpan, ItemRecord, ScriptedEvent, TrustEvaluator
from mmfusion_annotate.types import Stamp

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

REPLAY_SOURCE_KEY = "mmfusion_replay_source"


def read_sim_truth(bag: str | os.PathLike) -> tuple[list[ScriptedEvent], list[FaultSpan]] | None:
    """The scripted events and injected faults of a synthetic drive; None for a bag without that record."""
    path = Path(bag)
    for _ in range(2):  # this bag, then the bag it was replayed from
        custom = (read_metadata(path).get("custom_data") or {}) if (path / "metadata.yaml").is_file() else {}
        if TRUTH_KEY in custom:
            record = json.loads(custom[TRUTH_KEY])
            scripted = [ScriptedEvent(e["type"], int(e["t_ns"]), tuple(e.get("objects", ())))
                        for e in record.get("events", [])]
            faults = [FaultSpan(f["type"], f["sensor"], int(f["start_ns"]), f.get("end_ns"))
                      for f in record.get("faults", [])]
            return scripted, faults
        if REPLAY_SOURCE_KEY not in custom:
            return None
        path = Path(custom[REPLAY_SOURCE_KEY])
    return None


def review_records(msg: Any, log_time_ns: Stamp) -> list[ItemRecord]:
    """The review items of one ``/prelabels/review`` SceneUpdate as the judge takes them."""
    return [
        ItemRecord(r.reason, r.stamp, r.object_ids, r.camera or None, r.detail,
                   tuple(sorted(r.numeric_evidence().items())))
        for r in read_review_items(msg, log_time_ns)
    ]  # fmt: skip


def truth_events(rig: Rig, truth: Mapping[Stamp, Sequence], ego_samples: Iterable) -> list[dict]:
    """The driving events the rules raise on the truth frames (as tracks) and the bag's ego motion."""
    rules = load_rules()
    feed = SampleFeed(rig, rules)
    observations: list[tuple[int, int, EgoKinematics | TrackFrame]] = [
        (o.stamp, 0, o) for s in ego_samples for o in feed.feed(s) if isinstance(o, EgoKinematics)
    ]
    for stamp, boxes in truth.items():
        objects = tuple(TrackedObject(b.object_id, b.label.value, (b.center[0], b.center[1]), b.velocity,
                                      (b.size[0], b.size[1])) for b in boxes)
        observations.append((stamp, 1, TrackFrame(stamp, objects)))
    observations.sort(key=lambda item: (item[0], item[1]))
    return [e.to_dict() for e in EventTagger(rules).run(o for *_, o in observations)]


def trust_report(judge: TrustEvaluator, bag: str | os.PathLike, rig: Rig, truth: Mapping[Stamp, Sequence],
                 ego_samples: Sequence) -> dict:
    """Judge the bag's events (its review items were added frame by frame) and return the report."""
    events = list(topic_events(open_bag(bag)).values())
    stamps = sorted(truth)
    span = (stamps[0], stamps[-1]) if stamps else None
    judge.add_events(events, truth_events(rig, truth, ego_samples), span)
    return judge.report()
