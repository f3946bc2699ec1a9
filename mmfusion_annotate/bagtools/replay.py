"""Offline replay: a recorded bag's raw sensor topics through the same ``Annotator`` the live node uses.

The output bag is self-contained for review: every input message is copied through unchanged, the rig's
``/tf_static`` and camera infos are added, and the pre-labels and events are written on the topics the
live ``fusion_node`` publishes (one mapping, ``mmfusion_annotate.outputs.builder``). Messages are processed in
log-time order with their header stamps only, so the result does not depend on how fast the machine is.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from mmfusion_annotate.annotator import Annotator, AnnotatorOutput
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.errors import BagError, CodecError
from mmfusion_annotate.events.model import Event
from mmfusion_annotate.msgs.samples import decode_sample
from mmfusion_annotate.outputs.builder import Output, OutputBuilder, static_outputs
from mmfusion_annotate.outputs.topics import output_topics
from mmfusion_annotate.prelabel.camera_detector import describe
from mmfusion_annotate.recording import BagReader, BagWriter, deserialize, serialize
from mmfusion_annotate.recording.salvage import READ_LOSSES_KEY, ReadLosses

if TYPE_CHECKING:
    from mmfusion_annotate.rig import Rig

_log = logging.getLogger(__name__)


@dataclass
class ReplaySummary:
    """What a replay did, for the CLI and for tests comparing live and offline runs."""

    input_messages: int = 0
    frames: int = 0
    decode_errors: Counter = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)
    labels_written: int = 0
    output: Path | None = None
    sync_stats: dict = field(default_factory=dict)
    failed_frames: int = 0
    camera_detector: str = ""  # ``camera_detector.describe``: what gave the classes
    failed_detections: int = 0  # images the camera detector raised on (LiDAR-only there)
    losses: ReadLosses = field(default_factory=ReadLosses)
    """Damaged chunks skipped, and messages not used (undecodable, or of a type not installed)."""
    drops: str = ""
    """``DropCounts.summary`` of the pipeline: messages refused, per reason and sensor."""


def _write(writer: BagWriter, outputs: list[Output]) -> int:
    for out in outputs:
        writer.add_topic(out.topic, out.msgtype, qos=out.qos)
        data = serialize(out.msgtype, out.msg)
        if out.static:
            writer.set_static(out.topic, data, out.stamp_ns)
        else:
            writer.write(out.topic, data, out.stamp_ns)
    return len(outputs)


def _record(
    writer: BagWriter, builder: OutputBuilder, produced: AnnotatorOutput, summary: ReplaySummary
) -> None:
    for annotated in produced.frames:
        summary.labels_written += _write(writer, builder.frame(annotated))
        summary.frames += 1
    if produced.events:
        summary.labels_written += _write(writer, builder.events(produced.events))
        for event in produced.events:
            writer.add_event_metadata(event.id, event.start, event.end, event.to_dict())
        summary.events += produced.events


def replay_bag(
    bag: str | os.PathLike,
    output: str | os.PathLike,
    rig: Rig,
    config: PipelineConfig | None = None,
    *,
    compression: str = "lz4",
    progress: bool = False,
) -> ReplaySummary:
    """Run the pipeline over ``bag`` and write the annotated bag to ``output`` (a new directory)."""
    output = Path(output)
    reader = BagReader(bag)
    summary_losses = reader.losses
    sensors = {s.topic: s for s in rig.sensors.values()}
    annotator = Annotator(rig, config)
    summary = ReplaySummary(output=output, losses=summary_losses)
    missing: dict[str, str] = {}  # topic -> why it cannot be written (its type is not installed)
    builder = OutputBuilder(rig)
    produced_topics = {t.topic for t in output_topics(rig)}
    with BagWriter(output, compression=compression) as writer:
        for topic, msgtype in reader.topics.items():
            if topic not in produced_topics:
                try:
                    writer.add_topic(topic, msgtype, qos="sensor_data" if topic in sensors else "reliable")
                except BagError as error:
                    missing[topic] = str(error)
                    _log.warning("replay: %s is skipped: %s", topic, error)
        first = True
        for message in tqdm(reader, desc="replay", unit="msg", disable=not progress):
            if first:
                _write(writer, static_outputs(rig, message.log_time_ns))
                first = False
            if message.topic in produced_topics:
                continue  # re-derived below; an annotated input bag must not get two sets of labels
            summary.input_messages += 1
            if message.topic in missing:
                summary.losses.skip(message.topic, message.log_time_ns, missing[message.topic])
                continue
            writer.write(message.topic, message.data, message.log_time_ns)
            sensor = sensors.get(message.topic)
            if sensor is None:
                continue
            try:
                sample = decode_sample(sensor, deserialize(message.msgtype, message.data))
            except (CodecError, BagError) as exc:
                annotator.drops.count(sensor.name, getattr(exc, "reason", "undecodable"))
                summary.decode_errors[message.topic] += 1
                summary.losses.skip(message.topic, message.log_time_ns, str(exc))
                _log.info("replay: dropped a message: %s", exc)
                continue
            _record(writer, builder, annotator.feed(sample), summary)
        _record(writer, builder, annotator.finish(), summary)
        writer.custom_data["mmfusion_replay_source"] = str(Path(bag).resolve())
        if summary.losses.lossy:
            writer.custom_data[READ_LOSSES_KEY] = summary.losses.to_json()
    summary.sync_stats = annotator.sync.stats.snapshot()
    summary.failed_frames = annotator.counters.failed_frames
    summary.failed_detections = annotator.counters.failed_detections
    summary.camera_detector = describe(annotator.camera_detector)
    summary.drops = annotator.drops.summary()
    return summary


def format_replay_summary(summary: ReplaySummary) -> str:
    """Human-readable summary for the CLI."""
    lines = [
        f"replayed {summary.input_messages} messages -> {summary.frames} fused frames "
        f"({summary.failed_frames} failed), {summary.labels_written} label/event messages",
        f"{summary.camera_detector} ({summary.failed_detections} images failed)",
        f"events: {len(summary.events)}",
    ]
    lines += [
        f"  {e.start / 1e9:10.3f} s  {e.type:<22} {e.severity.value:<8}  objects {list(e.object_ids)}"
        for e in summary.events
    ]
    if summary.decode_errors:
        lines.append(
            "decode errors: " + ", ".join(f"{t}: {n}" for t, n in sorted(summary.decode_errors.items()))
        )
    if summary.drops:
        lines.append(f"dropped by the pipeline: {summary.drops}")
    lines += summary.losses.lines()
    lines.append(
        f"annotated bag: {summary.output}"
        + (f" ({summary.losses.summary()})" if summary.losses.lossy else "")
    )
    return "\n".join(lines)
