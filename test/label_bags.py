"""Small labelled bags: SceneUpdates on ``/prelabels/scene`` and ``/prelabels/review`` as the pipeline's
outputs carry them (cuboids with class and track, review items with every field), written by BagWriter."""

from __future__ import annotations

from pathlib import Path

from mmfusion_annotate.outputs.labels import SCENE_UPDATE
from mmfusion_annotate.outputs.topics import REVIEW_TOPIC, SCENE_TOPIC
from mmfusion_annotate.recording import BagWriter, new_message, serialize

NS = 1_000_000_000
T0 = 1_700_000_005 * NS  # not a multiple of the window: windows are aligned to the epoch, not the bag
PERIOD = NS // 10


def _entity(pairs: dict[str, str]) -> dict:
    return {"id": pairs.get("kind", ""), "metadata": [{"key": k, "value": v} for k, v in pairs.items()]}


def frame_messages(step: int) -> dict[str, object]:
    """Scene and review SceneUpdates of one frame: two cars and, every third frame, a pedestrian; one
    review item per frame (two on every fifth) with evidence."""
    stamp = T0 + step * PERIOD
    cuboids = [{"kind": "cuboid", "class": "car", "track_id": str(t), "stamp_ns": str(stamp)} for t in (1, 2)]
    if step % 3 == 0:
        cuboids.append({"kind": "cuboid", "class": "pedestrian", "track_id": "9", "stamp_ns": str(stamp)})
    reviews = [{"kind": "review", "reason": "camera_miss", "modalities": "lidar,camera", "priority": "0.6",
                "object_ids": "1", "camera": "cam_front", "detail": f"frame {step}", "stamp_ns": str(stamp),
                "severity": "0.8", "confidence": "0.75", "evidence.iou": "0.1",
                "evidence.iou_threshold": "0.3"}]
    if step % 5 == 0:
        reviews.append({"kind": "review", "reason": "radar_only", "modalities": "radar", "priority": "0.2",
                        "object_ids": "", "camera": "", "detail": "", "stamp_ns": str(stamp)})
    return {
        SCENE_TOPIC: new_message(SCENE_UPDATE, entities=[_entity(c) for c in cuboids]),
        REVIEW_TOPIC: new_message(SCENE_UPDATE, entities=[_entity(r) for r in reviews]),
    }  # fmt: skip


def write_labelled_bag(
    bag_dir: Path,
    steps: int = 30,
    *,
    split_duration_ns: int | None = NS,
    chunk_size: int = 4 << 20,
    namespaces: tuple[str, ...] = ("",),
) -> Path:
    """``steps`` frames; the pre-label topics under each of ``namespaces`` (``/car1``: as recorded under
    ``-r __ns:=/car1``)."""
    with BagWriter(bag_dir, compression="lz4", split_duration_ns=split_duration_ns,
                   chunk_size=chunk_size) as writer:  # fmt: skip
        writer.add_topic("/other", "std_msgs/msg/String")
        for ns in namespaces:
            for topic in (SCENE_TOPIC, REVIEW_TOPIC):
                writer.add_topic(ns + topic, SCENE_UPDATE)
        for step in range(steps):
            stamp = T0 + step * PERIOD
            other = new_message("std_msgs/msg/String", data=f"frame {step}")
            writer.write("/other", serialize("std_msgs/msg/String", other), stamp)
            for ns in namespaces:
                for topic, msg in frame_messages(step).items():
                    writer.write(ns + topic, serialize(SCENE_UPDATE, msg), stamp)
    return bag_dir
