"""fusion_node and recorder_node in one process: ``mmfusion run``, and the ``vehicle`` entry point that
both launch files start.

In one process the recorder takes the pipeline's outputs straight from the fusion node (no DDS copy),
which is also the only way the carried types (foxglove_msgs pre-labels, the event type) reach the bag
live on an install without those message packages. So ``ros2 launch`` starts this composition, not two
processes: whichever way the suite is started, the bag is the same.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rclpy.context import Context
from rclpy.parameter import Parameter

from mmfusion_annotate.nodes.composition import EXIT_CONFIG, ExecutorKind, main_nodes, missing_files
from mmfusion_annotate.nodes.fusion_node import FusionNode, apply_process_threads
from mmfusion_annotate.nodes.qos import SensorQos
from mmfusion_annotate.nodes.recorder_node import RecorderNode


def connect_recorder(fusion: FusionNode, recorder: RecorderNode) -> None:
    """Hand every output of ``fusion`` (messages and the events' metadata) to ``recorder`` in-process."""

    def record(out, outputs) -> None:
        recorder.record_outputs(outputs)
        recorder.record_events(out.events)

    fusion.add_listener(record)


def vehicle_nodes(
    context: Context, *, rig_file: Path | None, bag_dir: Path | None, record: bool = True,
    qos: SensorQos | None = None,
) -> list:
    """Build fusion (+ recorder) with the given rig (and sensor ``qos`` for both); parameters not given
    keep their defaults/YAML."""
    rig = [Parameter("rig_file", value=str(rig_file))] if rig_file else []
    fusion_qos = [Parameter("qos", value=qos)] if qos else []
    fusion = apply_process_threads(FusionNode(context=context, parameter_overrides=rig + fusion_qos))
    if not record:
        return [fusion]
    bag = [Parameter("bag_dir", value=str(bag_dir))] if bag_dir else []
    bag += [Parameter("recorder.sensor_qos", value=qos)] if qos else []
    outputs_in_process = [Parameter("recorder.include", value="")]  # outputs come through connect_recorder
    recorder = RecorderNode(context=context, parameter_overrides=rig + bag + outputs_in_process)
    connect_recorder(fusion, recorder)
    return [fusion, recorder]  # fusion closes first: its last events still reach the recorder


def run_vehicle(
    *, rig_file: Path | None, bag_dir: Path | None, record: bool = True, extra_args: Sequence[str] = (),
    executor: ExecutorKind = "events",
) -> int:
    """Run until SIGINT/SIGTERM on ``executor``; exit code 2 with one line on a bad rig or parameter, 1
    when the recording lost messages to I/O errors (a full disk), 130 after Ctrl-C, else 0."""
    nodes: list = []

    def build(context: Context):
        nodes[:] = vehicle_nodes(context, rig_file=rig_file, bag_dir=bag_dir, record=record)
        return nodes.pop(0)

    factories = [build] + ([lambda _ctx: nodes.pop(0)] if record else [])
    extra = list(extra_args)
    if extra[:1] == ["--"]:  # `mmfusion run ... -- --ros-args ...`: argparse keeps the separator
        extra.pop(0)
    if extra and extra[0] != "--ros-args":
        extra.insert(0, "--ros-args")
    args = ["mmfusion", *extra] if extra else None
    return main_nodes(factories, args, program="mmfusion run", interrupt_exit=True, executor=executor)


def main(args: list[str] | None = None) -> int:
    """``ros2 run mmfusion_annotate vehicle`` (what ``vehicle.launch.py`` and ``demo.launch.py`` start).

    The two nodes of ``mmfusion run``, configured by ROS arguments only: each takes its own section of a
    ``--params-file`` (``fusion_node:``, ``recorder_node:``) and both take ``/**`` and ``-p`` values (the
    launch files' ``rig_file``, ``bag_dir``, ``use_sim_time``). A missing rig or parameter file: one line
    naming it and exit 2, before any node exists. A signal is a clean stop (exit 0, what launch expects).
    """
    argv = sys.argv if args is None else args
    for problem in missing_files(argv, parameters=("rig_file",)):
        print(f"vehicle: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    nodes: list = []

    def build(context: Context):
        nodes[:] = vehicle_nodes(context, rig_file=None, bag_dir=None)
        return nodes.pop(0)

    return main_nodes([build, lambda _ctx: nodes.pop(0)], argv, program="vehicle")


if __name__ == "__main__":
    sys.exit(main())
