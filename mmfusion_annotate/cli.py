"""The ``mmfusion`` command: parses arguments, calls the packages, prints results.

argparse (stdlib) rather than typer/click: no extra dependency on the car, sub-commands with their own
``--help`` and examples, and exit codes under our control. Handlers import their package lazily so
``mmfusion --help`` stays instant. Exit codes: 0 success; 1 done with losses (the bag tools skipped a
damaged chunk or an undecodable message, listed at the end); 2 a usage, configuration or input error, or a
file that cannot be written (a full disk: one line on stderr naming the file, key or topic, never a
traceback); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). A signal unwinds the command like an
error, so a bag being written is closed, complete as far as it got and marked partial.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from mmfusion_annotate.argtypes import (
    entry_count,
    existing_path,
    frame_range,
    non_negative_float,
    positive_float,
    speed_factor,
    worker_count,
)
from mmfusion_annotate.errors import MmfusionError
from mmfusion_annotate.library_threads import let_openmp_teams_sleep, limit_library_threads
from mmfusion_annotate.nodes.player_args import add_play_arguments


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's ``KeyboardInterrupt`` so that every command unwinds the same way."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def os_error_line(error: OSError) -> str:
    """``no space left on device: PATH``: what failed and on which file, in one line."""
    reason = (error.strerror or str(error)).lower()
    return f"{reason}: {error.filename}" if error.filename else reason


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add(sub, name: str, help_text: str, epilog: str, handler, **kwargs) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=_formatter, **kwargs
    )
    parser.set_defaults(handler=handler)
    return parser


def _load_rig(path: Path | None):
    from mmfusion_annotate.rig import default_rig_path, load_rig  # noqa: PLC0415

    return load_rig(path or default_rig_path())


# --- handlers ---------------------------------------------------------------------------------------


def cmd_rig(args: argparse.Namespace) -> int:
    rig = _load_rig(args.rig)
    print(
        f"rig '{rig.name}' ({args.rig or 'default'}): {len(rig.sensors)} sensors, base frame {rig.base_frame}"
    )
    for s in rig.sensors.values():
        extra = (
            f" {s.camera.width}x{s.camera.height} {s.camera.distortion_model}" if s.kind == "camera" else ""
        )
        flag = " optional" if s.optional else ""
        print(f"  {s.name:<18} {s.kind:<9} {s.topic:<36} {s.rate_hz:6.1f} Hz{flag}{extra}")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from mmfusion_annotate.sim import Drive, builtin_scenarios, load_scenario  # noqa: PLC0415
    from mmfusion_annotate.sim.bag import write_bag  # noqa: PLC0415

    if args.list:
        for name in builtin_scenarios():
            scenario = load_scenario(name)
            print(f"{name:<22} {scenario.duration_s:5.1f} s  {scenario.description}")
        return 0
    rig = _load_rig(args.rig)
    scenario = load_scenario(args.scenario)
    if args.duration:
        scenario = scenario.model_copy(update={"duration_s": args.duration})
    drive = Drive(rig, scenario, seed=args.seed)
    writer = write_bag(drive, args.output, compression=args.compression)
    drive_text = f"{scenario.duration_s:.1f} s of {scenario.name}"
    print(f"wrote {writer.message_count} messages ({drive_text}) to {args.output}")
    if args.contact_sheet:
        from mmfusion_annotate.sim.contact_sheet import render_contact_sheet  # noqa: PLC0415

        render_contact_sheet(drive, args.contact_sheet)
        print(f"contact sheet: {args.contact_sheet}")
    return 0


def _with_detector(prelabel, model: str | None):
    """``prelabel`` (a ``PrelabelConfig``) with ``--detector``'s model, when given."""
    if model is None:
        return prelabel
    detector = prelabel.camera.detector.model_copy(update={"model": model})
    return prelabel.model_copy(update={"camera": prelabel.camera.model_copy(update={"detector": detector})})


def cmd_replay(args: argparse.Namespace) -> int:
    from mmfusion_annotate.bagtools.replay import format_replay_summary, replay_bag  # noqa: PLC0415
    from mmfusion_annotate.config import load_pipeline_config  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file, carry_rig  # noqa: PLC0415
    from mmfusion_annotate.rig import default_rig_path  # noqa: PLC0415

    if len(args.bag) > 1 or args.workers is not None or args.ray is not None:
        return _replay_batch(args)
    args.bag = args.bag[0]
    rig_file = args.rig or bag_rig_file(args.bag)  # an imported bag carries its rig
    rig = _load_rig(rig_file)
    print(f"rig '{rig.name}' from {rig_file or 'the default rig file'}", flush=True)
    config = load_pipeline_config(args.config)
    config.prelabel = _with_detector(config.prelabel, args.detector)
    limit_library_threads(config.fusion.cpu_threads)
    summary = replay_bag(
        args.bag,
        args.output,
        rig,
        config,
        compression=args.compression,
        progress=True,
    )
    carry_rig(rig_file or default_rig_path(), args.output)  # 'mmfusion evaluate OUT' finds it there
    print(format_replay_summary(summary))
    return 1 if summary.losses.lossy else 0  # 1: done, but something could not be read or decoded


def _replay_batch(args: argparse.Namespace) -> int:
    """Several bags, or --workers/--ray: one annotated bag per input in the folder -o (resumable)."""
    import os  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    from mmfusion_annotate.bagtools.replay_batch import (  # noqa: PLC0415
        format_batch_summary,
        plan_replays,
        run_replays,
    )
    from mmfusion_annotate.config import load_pipeline_config  # noqa: PLC0415

    config = load_pipeline_config(args.config)
    config.prelabel = _with_detector(config.prelabel, args.detector)
    if args.rig is not None:
        _load_rig(args.rig)  # a bad --rig is one error now, not one per bag
    plan = plan_replays(args.bag, args.output, rig_file=args.rig, config=config, compression=args.compression)
    workers = args.workers or min(os.cpu_count() or 1, max(1, len(plan.jobs)))
    engine = f"Ray ({args.ray})" if args.ray else f"{workers} worker process{'es' if workers > 1 else ''}"
    print(f"replaying {len(plan.jobs)} bags into {args.output} on {engine}", flush=True)
    with tqdm(total=len(plan.jobs), unit="bag", desc="replay") as bar:
        outcomes = run_replays(
            plan, args.output, workers=workers, ray_address=args.ray, progress=lambda _: bar.update()
        )
    print(format_batch_summary(plan, outcomes))
    if plan.refused or not all(o.ok for o in outcomes):
        return 2  # a bag failed: listed above, the others are done
    return 1 if any(o.result and o.result.losses for o in outcomes) else 0


def cmd_import(args: argparse.Namespace) -> int:
    from mmfusion_annotate.datasets.bag_import import format_import_summary  # noqa: PLC0415

    if args.kind == "pandaset":
        from mmfusion_annotate.datasets.pandaset_import import import_pandaset  # noqa: PLC0415

        summary = import_pandaset(
            args.sequence, args.output, args.frames, compression=args.compression, progress=True
        )
    elif args.frames is not None:
        raise MmfusionError(f"--frames: {args.kind} imports every frame of the folder (PandaSet only)")
    elif args.kind == "kitti":
        from mmfusion_annotate.datasets.kitti_import import import_kitti  # noqa: PLC0415

        summary = import_kitti(args.sequence, args.output, compression=args.compression, progress=True)
    else:
        from mmfusion_annotate.datasets.nuscenes_import import import_nuscenes  # noqa: PLC0415

        summary = import_nuscenes(args.sequence, args.output, compression=args.compression)
    print(format_import_summary(summary))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from mmfusion_annotate.bagtools.info import bag_info, format_info  # noqa: PLC0415

    info = bag_info(args.bag)
    print(json.dumps(info.to_dict(), indent=2) if args.json else format_info(info))
    # 1, as every bag tool after losses: a cut-off file's messages are not counted (README, exit codes).
    return 1 if info.incomplete_files else 0


def cmd_events(args: argparse.Namespace) -> int:
    from mmfusion_annotate.bagtools.events import format_events, list_events  # noqa: PLC0415
    from mmfusion_annotate.bagtools.info import bag_info  # noqa: PLC0415
    from mmfusion_annotate.recording.salvage import ReadLosses  # noqa: PLC0415

    losses = ReadLosses()
    events = list_events(args.bag, types=args.type, min_severity=args.min_severity, losses=losses)
    origin = bag_info(args.bag).start_ns
    print(json.dumps(events, indent=2) if args.json else format_events(events, origin_ns=origin))
    for line in [*losses.lines(), losses.summary()] if losses.lossy else ():
        print(f"mmfusion events: {line}", file=sys.stderr)  # stderr: --json output stays parseable
    return 1 if losses.lossy else 0


def cmd_clip(args: argparse.Namespace) -> int:
    from mmfusion_annotate.bagtools.clip import clip_bag, format_clips  # noqa: PLC0415

    if args.catalog is not None:
        return _clip_catalog(args)
    if args.bag is None:
        raise MmfusionError("a BAG to clip is required (or --catalog DIR)")
    if args.where is not None:
        raise MmfusionError("--where selects events of a catalog: use it with --catalog DIR")
    if args.review is not None or args.review_kind is not None:
        from mmfusion_annotate.bagtools.clip import clip_review  # noqa: PLC0415

        clips = clip_review(args.bag, args.output, entry_id=args.review, reason=args.review_kind,
                            before_s=args.before, after_s=args.after, progress=True)  # fmt: skip
        print(format_clips(clips))
        return 1 if any(c.losses.lossy for c in clips) else 0
    clips = clip_bag(
        args.bag,
        args.output,
        event_id=args.event,
        event_type=args.type,
        before_s=args.before,
        after_s=args.after,
        progress=True,
    )
    print(format_clips(clips))
    return 1 if any(c.losses.lossy for c in clips) else 0


def _clip_catalog(args: argparse.Namespace) -> int:
    from mmfusion_annotate.catalog.clips import clip_catalog, format_catalog_clips  # noqa: PLC0415

    if args.bag is not None:
        raise MmfusionError(f"--catalog clips the catalog's bags: give no BAG (got {args.bag})")
    result = clip_catalog(
        args.catalog, args.output, where=args.where, before_s=args.before, after_s=args.after, progress=True
    )
    print(format_catalog_clips(result))
    return 1 if result.failed or any(c.losses.lossy for c in result.clips) else 0


def cmd_index(args: argparse.Namespace) -> int:
    from mmfusion_annotate.batch import batch_map  # noqa: PLC0415
    from mmfusion_annotate.catalog import index_paths  # noqa: PLC0415
    from mmfusion_annotate.catalog.store import MapFn  # noqa: PLC0415

    lost: list[str] = []  # bags whose worker died on every attempt: not in the catalog, a re-run reads them
    map_fn: MapFn = map
    if args.workers is not None or args.ray is not None:
        map_fn = batch_map(
            workers=args.workers or 1,
            ray_address=args.ray,
            on_failure=lambda bag, error: lost.append(f"{bag}: {error} (not indexed)"),
        )
    report = index_paths(
        args.paths,
        args.catalog,
        map_fn=map_fn,
        labels=not args.no_labels,
        window_s=args.window,
        progress=True,
    )
    for line in [*report.notes, *report.failed, *lost]:
        print(f"mmfusion index: {line}", file=sys.stderr)
    print(
        f"{report.catalog}: {report.found} bags found, {report.indexed} indexed ({report.events} events), "
        f"{report.unchanged} unchanged, {report.vanished} vanished, {len(report.failed)} not indexed"
    )
    return 1 if report.failed or lost else 0


def cmd_search(args: argparse.Namespace) -> int:
    from mmfusion_annotate.catalog import search  # noqa: PLC0415

    filters = {"where": args.where, "types": args.type, "min_severity": args.min_severity}
    if args.json:
        print(search.search_json(args.catalog, **filters))
    else:
        print(
            search.format_search(search.search_events(args.catalog, **filters, columns=search.TABLE_COLUMNS))
        )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from mmfusion_annotate.export.review_page import build_review, format_review, write_review  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file  # noqa: PLC0415

    rig = _load_rig(args.rig or bag_rig_file(args.bag))
    report = build_review(args.bag, rig, kinds=args.kind, limit=args.limit, progress=not args.json)
    page = write_review(report, args.output or Path(f"{args.bag.name}_review"))
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_review(report, page))
    if report.queue.missing:
        print(f"mmfusion review: {report.queue.missing}", file=sys.stderr)
    for line in [*report.losses.lines(), report.losses.summary()] if report.losses.lossy else ():
        print(f"mmfusion review: {line}", file=sys.stderr)
    return 1 if report.losses.lossy else 0


def cmd_sheet(args: argparse.Namespace) -> int:
    from mmfusion_annotate.export.bag_sheet import format_sheet, render_bag_sheet  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file  # noqa: PLC0415

    rig = _load_rig(args.rig or bag_rig_file(args.bag))
    summary = render_bag_sheet(args.bag, rig, args.output, count=args.rows, progress=True)
    print(format_sheet(summary))
    for line in [*summary.losses.lines(), summary.losses.summary()] if summary.losses.lossy else ():
        print(f"mmfusion sheet: {line}", file=sys.stderr)
    return 1 if summary.losses.lossy else 0


def cmd_recover(args: argparse.Namespace) -> int:
    from mmfusion_annotate.bagtools.recover import format_recovery, recover_bag  # noqa: PLC0415

    report = recover_bag(args.bag)
    print(format_recovery(report))
    return 1 if report.lossy else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if (args.dataset / "velodyne").is_dir():
        from mmfusion_annotate.datasets.kitti_evaluate import evaluate_kitti, format_report  # noqa: PLC0415
        from mmfusion_annotate.prelabel import PrelabelConfig  # noqa: PLC0415

        cfg = _with_detector(PrelabelConfig(), args.detector)
        rig = _load_rig(args.rig) if args.rig else None  # else the LiDAR's mounting is measured per frame
        report = evaluate_kitti(
            args.dataset, images_dir=args.images, progress=not args.json, cfg=cfg, rig=rig
        )
        print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
        return 0
    from mmfusion_annotate.bagtools.evaluate_bag import evaluate_bag, format_bag_evaluation  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file  # noqa: PLC0415

    rig = _load_rig(args.rig or bag_rig_file(args.dataset))
    result = evaluate_bag(
        args.dataset,
        rig,
        min_points=args.min_points,
        skip_s=args.skip,
        images_dir=args.images,
        progress=not args.json,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_bag_evaluation(result))
    return 0


def _export_window(args: argparse.Namespace):
    """Absolute (start, end) ns of ``--event`` (with --before/--after) or ``--start``/``--end``, or None."""
    from mmfusion_annotate.bagtools.clip import event_window  # noqa: PLC0415
    from mmfusion_annotate.bagtools.events import find_event  # noqa: PLC0415
    from mmfusion_annotate.bagtools.source import open_bag  # noqa: PLC0415
    from mmfusion_annotate.types import seconds_to_ns  # noqa: PLC0415

    if args.event is not None:
        if args.end is not None:
            raise MmfusionError("--end selects a time window; it does not combine with --event")
        return event_window(find_event(args.bag, args.event), args.before, args.after)
    if args.start is None and args.end is None:
        return None
    origin = min((f.start_ns for f in open_bag(args.bag) if f.start_ns is not None), default=0)
    end = origin + seconds_to_ns(args.end) if args.end is not None else 2**63 - 1
    start = origin + seconds_to_ns(args.start or 0.0)
    if end < start:
        raise MmfusionError(f"--end {args.end} s is before --start {args.start} s")
    return start, end


def cmd_export(args: argparse.Namespace) -> int:
    from mmfusion_annotate.export import export_bag, format_export  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file  # noqa: PLC0415

    rig = _load_rig(args.rig or bag_rig_file(args.bag))
    summary = export_bag(args.bag, args.output, rig, fmt=args.format, window_ns=_export_window(args),
                         with_data=args.with_data, check_schema=args.validate)  # fmt: skip
    print(format_export(summary))
    return 1 if summary.losses.lossy else 0


def cmd_import_labels(args: argparse.Namespace) -> int:
    from mmfusion_annotate.export import format_import, import_labels  # noqa: PLC0415
    from mmfusion_annotate.recording.bag_dir import bag_rig_file  # noqa: PLC0415

    rig = _load_rig(args.rig or bag_rig_file(args.bag))
    output = args.output or args.bag.with_name(f"{args.bag.name}_labels")
    print(format_import(import_labels(args.labels, args.bag, output, rig)))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from mmfusion_annotate.prelabel import model_store  # noqa: PLC0415

    directory = model_store.model_dir(getattr(args, "model_dir", None))
    if args.models_command == "install":
        path = model_store.install(args.name, args.file, directory)
        print(f"installed {args.name} as {path} (sha256 verified)")
    elif args.models_command == "fetch":
        path = model_store.fetch(args.name, directory, url=args.url)
        print(f"downloaded {args.name} to {path} (sha256 verified)")
    else:
        print(f"model directory: {directory}")
        for m in model_store.KNOWN_MODELS:
            state = "installed" if model_store.is_installed(m, directory) else "not installed"
            print(f"{m.name:<14} {state:<14} {m.description}")
            print(f"  file     {m.file} ({m.size:,} bytes, {m.architecture} interface)")
            print(f"  sha256   {m.sha256}")
            print(f"  licence  {m.licence}")
            print(f"  source   {m.url}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from mmfusion_annotate.nodes.player_node import format_play, play_exit_code, play_from_args  # noqa: PLC0415

    result = play_from_args(args)
    print(format_play(result))
    return play_exit_code(result)


def cmd_run(args: argparse.Namespace) -> int:
    from mmfusion_annotate.nodes.vehicle import run_vehicle  # noqa: PLC0415

    return run_vehicle(
        rig_file=args.rig,
        bag_dir=args.bag_dir,
        record=not args.no_record,
        extra_args=args.ros_args,
        executor=args.executor,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from mmfusion_annotate.nodes.demo import format_demo_summary, run_demo  # noqa: PLC0415

    summary = run_demo(
        scenario=args.scenario,
        duration_s=args.duration,
        out_dir=args.output,
        rig_file=args.rig,
        rate=args.rate,
        executor=args.executor,
    )
    print(format_demo_summary(summary))
    if summary.stop_signal:  # the same last line as any command stopped by a signal
        print(f"mmfusion demo: {'interrupted' if summary.stop_signal == signal.SIGINT else 'terminated'}",
              file=sys.stderr)  # fmt: skip
    return summary.exit_code


# --- parser -------------------------------------------------------------------------------------------


DETECTOR_HELP = (
    "camera detector: a model name from 'mmfusion models' or an .onnx file (prelabel.camera.detector.model)"
)


def _add_batch_options(p: argparse.ArgumentParser, verb: str, default: str, shared: str) -> None:
    """``--workers`` and ``--ray`` of the commands that run over many bags (``mmfusion_annotate.batch``)."""
    p.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help=f"bags {verb} at a time in local processes (default: {default}); with '--ray local': the CPUs "
        "Ray may use",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="one Ray task per bag: 'local' starts Ray here, 'auto' or HOST:PORT joins a running cluster "
        f"(pip install 'mmfusion_annotate[fleet]'; {shared} on storage every node reaches)",
    )


REVIEW_PICTURED = 200
"""Entries ``mmfusion review`` draws pictures for by default: reading and drawing each entry's frame of a
long drive's thousands would take minutes and make a page no browser opens quickly."""
EXECUTOR_HELP = "rclpy executor: events (EventsExecutor, default: less overhead) or multi (MultiThreaded)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmfusion",
        description="Multimodal fusion, cross-modal pre-labels, event tags and MCAP bags for AV test cars.",
        formatter_class=_formatter,
        epilog=(
            "Typical session:\n"
            "  mmfusion demo                         # synthetic drive through the live nodes: bag, summary\n"
            "  mmfusion events demo_out/cut_in_bag   # what the event tagger found\n"
            "  mmfusion clip demo_out/cut_in_bag --type cut_in --before 3 --after 3 -o clips/\n"
            "Run 'mmfusion COMMAND --help' for each command's options and examples."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    rig_help = "rig file (default: the shipped nuScenes-like rig)"

    p = _add(
        sub,
        "demo",
        "run the synthetic drive through sim -> fusion -> recorder over DDS, then summarize",
        "Example: mmfusion demo --scenario hard_braking --duration 12 -o demo_out",
        cmd_demo,
    )
    p.add_argument(
        "--scenario", default="cut_in", help="built-in scenario name or scenario YAML (default cut_in)"
    )
    p.add_argument(
        "--duration", type=positive_float, default=None, help="seconds of drive (default: scenario's)"
    )
    p.add_argument(
        "--rate",
        type=speed_factor,
        default=0.5,
        help="sim speed vs real time (default 0.5: on 2 cores sim + full pipeline do not fit real time)",
    )
    p.add_argument("--rig", type=existing_path, help=rig_help)
    p.add_argument("-o", "--output", type=Path, default=Path("demo_out"), help="output folder (bag, PNGs)")
    p.add_argument("--executor", choices=["events", "multi"], default="events", help=EXECUTOR_HELP)

    p = _add(
        sub,
        "run",
        "run fusion_node + recorder_node for a real car in one process (no ros2 launch)",
        "Example: mmfusion run --rig config/rig_nuscenes_like.yaml --bag-dir /data/bags",
        cmd_run,
    )
    p.add_argument("--rig", type=existing_path, help=rig_help)
    p.add_argument(
        "--bag-dir",
        type=Path,
        default=Path("recordings"),
        help="folder in which each run creates a new bag <rig>_<UTC time> (an existing bag is never touched)",
    )
    p.add_argument("--no-record", action="store_true", help="fusion only, no recorder")
    p.add_argument("--executor", choices=["events", "multi"], default="events", help=EXECUTOR_HELP)
    p.add_argument("ros_args", nargs=argparse.REMAINDER, help="extra arguments after --ros-args")

    p = _add(
        sub,
        "replay",
        "run the pipeline offline over recorded bags: raw sensor topics in, annotated bags out (several "
        "in parallel, on local processes or a Ray cluster)",
        "Examples:\n  mmfusion replay drive_bag -o drive_annotated\n"
        "  mmfusion replay /data/bags/*/ -o /data/annotated --workers 2   # one bag per input, resumable\n"
        "  mmfusion replay /nfs/bags/*/ -o /nfs/annotated --ray auto      # on a running Ray cluster",
        cmd_replay,
    )
    p.add_argument("bag", nargs="+", type=existing_path, help="bag directory or .mcap file (one or more)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output bag directory (must not exist); with several BAGs, --workers or --ray: the folder that "
        "gets one annotated bag per input, OUT/<bag name> (a re-run skips the bags finished there)",
    )
    p.add_argument(
        "--rig",
        type=existing_path,
        help="rig file (default: BAG/rig.yaml when the bag has one, else the shipped nuScenes-like rig)",
    )
    p.add_argument("--config", type=existing_path, help="pipeline YAML (sections sync, fusion, prelabel)")
    p.add_argument("--detector", metavar="MODEL", help=DETECTOR_HELP)
    p.add_argument("--compression", choices=["none", "lz4", "zstd"], default="lz4")
    _add_batch_options(p, "replayed", "the CPUs when there are several BAGs", "BAGs and OUT")

    p = _add(
        sub,
        "import",
        "import a public dataset sequence into a bag as a test car would record it (sensor topics, "
        "odometry, /tf_static, truth on /truth/...), with its rig as BAG/rig.yaml",
        "Examples:\n"
        "  mmfusion import pandaset ../shared/data/pandaset_seq002 -o pandaset_002 --frames 16-25\n"
        "  mmfusion replay pandaset_002 -o pandaset_002_annotated   # uses pandaset_002/rig.yaml\n"
        "  mmfusion import kitti ../shared/data/kitti/training -o kitti_bag\n"
        "  mmfusion import nuscenes ../shared/data/nuscenes_keyframe -o nuscenes_bag",
        cmd_import,
    )
    p.add_argument("kind", choices=["pandaset", "kitti", "nuscenes"], help="dataset kind")
    p.add_argument(
        "sequence",
        type=existing_path,
        help="PandaSet sequence folder (002/ or its parent), KITTI object-layout folder (velodyne/, calib/, "
        "image_2/, label_2/; or its parent holding training/), or nuScenes folder (an mmdetection3d info "
        "*.info.json, here or in derived/, or *.pkl, beside the sample's files)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="bag directory to write (new or empty)")
    p.add_argument("--frames", type=frame_range, help="frames A-B (inclusive; default: every frame present)")
    p.add_argument("--compression", choices=["none", "lz4", "zstd"], default="lz4")

    p = _add(
        sub,
        "play",
        "publish a bag's messages on their topics at the recorded pace (with /clock)",
        "Every topic whose message type is installed is played; the others (foxglove_msgs, the Event type\n"
        "where their packages are missing) are named at the start and counted in the summary. Latched\n"
        "topics (/tf_static, camera info) reach late subscribers. In a terminal: space pauses and resumes,\n"
        "s or the right arrow steps one message while paused.\n"
        "Examples:\n"
        "  mmfusion play drive_bag --rate 0.5 --loop\n"
        "  mmfusion play drive_bag --start-offset 30 --start-paused --exclude '^/cam_back'\n"
        "  mmfusion play drive_bag --remap /lidar_top:=/car1/lidar_top --clock 200",
        cmd_play,
    )
    add_play_arguments(p)

    p = _add(
        sub,
        "info",
        "summarize a bag: files, duration, topics, rates, QoS, drops, events",
        "Example: mmfusion info drive_bag --json",
        cmd_info,
    )
    p.add_argument("bag", type=existing_path)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _add(
        sub,
        "events",
        "list the events tagged in a bag (from the files' metadata; no message is decoded)",
        "Example: mmfusion events drive_bag --type low_ttc --min-severity critical --json",
        cmd_events,
    )
    p.add_argument("bag", type=existing_path)
    p.add_argument("--type", action="append", help="only this event type (repeatable)")
    p.add_argument("--min-severity", help="lowest severity to list: info, watch, critical or severe")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _add(
        sub,
        "clip",
        "cut self-contained scenario clips (static TF, camera infos copied in) around events or review "
        "entries",
        "Examples:\n  mmfusion clip drive_bag --event 3f2a9c --before 5 --after 5 -o clips/\n"
        "  mmfusion clip drive_bag --type hard_braking -o clips/\n"
        "  mmfusion clip drive_annotated --review-kind class_flip --before 2 --after 2 -o clips/\n"
        "  mmfusion clip --catalog fleet_catalog --where \"type = 'hard_braking' AND rig = 'car7'\" "
        "-o clips/",
        cmd_clip,
    )
    p.add_argument("bag", nargs="?", type=existing_path, help="bag folder or .mcap file (not with --catalog)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--event", help="event id (see 'mmfusion events')")
    target.add_argument("--type", help="every event of this type")
    target.add_argument(
        "--catalog", type=existing_path, metavar="DIR", help="every event of the catalog matching --where"
    )
    target.add_argument("--review", metavar="ENTRY", help="review entry id (see 'mmfusion review')")
    target.add_argument("--review-kind", metavar="KIND", help="every review entry of this kind (reason)")
    p.add_argument("--where", metavar="SQL", help="--catalog: which events (as 'mmfusion search --where')")
    p.add_argument(
        "--before", type=non_negative_float, default=5.0, help="seconds before the event (review entry) start"
    )
    p.add_argument(
        "--after", type=non_negative_float, default=5.0, help="seconds after the event (review entry) end"
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the clip bags")

    p = _add(
        sub,
        "index",
        "catalog many bags (recursively) as Parquet tables: bags, topics, events, review items, pre-label "
        "counts; only new or changed bags are read",
        "Examples:\n  mmfusion index /data/bags --catalog fleet_catalog\n"
        "  mmfusion index /data/bags --catalog fleet_catalog --no-labels   # summaries and events only",
        cmd_index,
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="bags, or folders holding bags")
    p.add_argument(
        "--catalog", type=Path, required=True, metavar="DIR", help="catalog folder (made if missing)"
    )
    p.add_argument(
        "--no-labels",
        action="store_true",
        help="skip review items and pre-label counts (they are read from messages: most of an annotated bag)",
    )
    p.add_argument(
        "--window",
        type=positive_float,
        default=10.0,
        metavar="SEC",
        help="pre-label count window (default 10 s)",
    )
    _add_batch_options(p, "read", "one, in this process", "the bags")

    p = _add(
        sub,
        "search",
        "list the events of a catalog's bags, filtered with SQL (DuckDB over the catalog's Parquet tables)",
        "Examples:\n  mmfusion search --catalog fleet_catalog --type hard_braking --min-severity critical\n"
        "  mmfusion search --catalog fleet_catalog --json \\\n"
        "      --where \"type = 'hard_braking' AND evidence['peak_decel_mps2'] < -6 AND rig = 'car7'\"",
        cmd_search,
    )
    p.add_argument("--catalog", type=existing_path, required=True, metavar="DIR", help="catalog folder")
    p.add_argument(
        "--where", metavar="SQL", help="SQL condition on the event columns (README: Catalog schema)"
    )
    p.add_argument("--type", action="append", help="only this event type (repeatable)")
    p.add_argument("--min-severity", help="lowest severity to list: info, watch, critical or severe")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _add(
        sub,
        "review",
        "the review queue of a replayed bag, highest priority first, as one self-contained HTML page "
        "(camera crop and bird's-eye view of each entry) and JSON",
        "Examples:\n  mmfusion review drive_annotated -o review/   # open review/index.html\n"
        "  mmfusion review drive_annotated --kind class_flip --limit 0   # every class flip, all pictured\n"
        "  mmfusion review drive_annotated --json | jq '.entries[0]'",
        cmd_review,
    )
    p.add_argument("bag", type=existing_path, help="bag with /prelabels/review (from 'mmfusion replay')")
    p.add_argument(
        "-o", "--output", type=Path, help="folder for index.html and review.json (default: BAG_review)"
    )
    p.add_argument("--rig", type=existing_path, help="rig file (default: BAG/rig.yaml, else the shipped rig)")
    p.add_argument(
        "--kind", action="append", default=[], metavar="KIND",
        help="only entries of this kind (reason); repeat for several (default: every kind)",
    )  # fmt: skip
    p.add_argument(
        "--limit", type=entry_count, default=REVIEW_PICTURED, metavar="N",
        help=f"pictures for the first N entries only, the rest listed (0: all; default {REVIEW_PICTURED})",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the queue as JSON instead of a summary")

    p = _add(
        sub,
        "sheet",
        "a contact sheet (PNG) of a recorded bag or clip: cameras with the LiDAR overlay and the labelled "
        "pre-label boxes, a bird's-eye view with the cuboids, a legend",
        "Example: mmfusion sheet drive_annotated -o drive.png",
        cmd_sheet,
    )
    p.add_argument("bag", type=existing_path, help="bag folder or .mcap file (pre-labels drawn when present)")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    p.add_argument("--rows", type=int, default=4, help="moments drawn, spread over the bag (default 4)")
    p.add_argument("--rig", type=existing_path, help="rig file (default: BAG/rig.yaml, else the shipped rig)")

    bag = sub.add_parser("bag", help="bag maintenance (recover)", description="bag maintenance")
    bag_sub = bag.add_subparsers(dest="bag_command", metavar="BAG_COMMAND", required=True)
    p = _add(
        bag_sub,
        "recover",
        "make a bag left by a crash complete again (every completed chunk kept, metadata.yaml rebuilt)",
        "Example: mmfusion bag recover recordings/drive_2026_11_22",
        cmd_recover,
    )
    p.add_argument("bag", type=existing_path, help="bag directory or .mcap file")

    p = _add(
        sub,
        "evaluate",
        "score a replayed bag's pre-labels against its truth topics, or pre-label and score a KITTI-layout "
        "dataset",
        "Examples:\n  mmfusion replay drive_bag -o drive_annotated && mmfusion evaluate drive_annotated\n"
        "  mmfusion evaluate ../shared/data/kitti/training --images eval_png/",
        cmd_evaluate,
    )
    p.add_argument(
        "dataset",
        type=existing_path,
        help="a replayed bag with /truth/objects, or a folder with velodyne/, image_2/, calib/, label_2/",
    )
    p.add_argument(
        "--rig",
        type=existing_path,
        help="rig file: bags default to BAG/rig.yaml, else the shipped rig; KITTI-layout folders take "
        "the LiDAR's mounting height and vertical field of view from it (default: measured per frame)",
    )
    p.add_argument(
        "--min-points",
        type=int,
        default=1,
        help="bags: truth objects with fewer LiDAR returns inside are ignored (default 1)",
    )
    p.add_argument(
        "--skip",
        type=non_negative_float,
        default=0.0,
        metavar="SEC",
        help="bags: score only truth frames at least SEC after the first (tracker warm-up, training frames)",
    )
    p.add_argument("--images", type=Path, help="write one side-by-side PNG per frame here")
    p.add_argument("--detector", metavar="MODEL", help=DETECTOR_HELP + "; KITTI-layout datasets only")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = _add(
        sub,
        "export",
        "export a replayed bag's pre-labels for labelling tools: ASAM OpenLABEL 1.0, or COCO per camera",
        "Examples:\n  mmfusion export drive_annotated -o labels/ --validate\n"
        "  mmfusion export drive_annotated --event 3f2a9c --with-data -o upload/\n"
        "  mmfusion export drive_annotated --format coco -o coco/   # images written beside the JSONs",
        cmd_export,
    )
    p.add_argument("bag", type=existing_path, help="bag with /prelabels/scene (from 'mmfusion replay')")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write (new or empty)")
    p.add_argument("--format", choices=["openlabel", "coco"], default="openlabel")
    p.add_argument("--rig", type=existing_path, help="rig file (default: BAG/rig.yaml, else the shipped rig)")
    window = p.add_mutually_exclusive_group()
    window.add_argument("--event", help="only the frames of this event (see 'mmfusion events')")
    window.add_argument("--start", type=non_negative_float, metavar="SEC", help="from SEC after bag start")
    p.add_argument("--end", type=non_negative_float, metavar="SEC", help="up to SEC after bag start")
    p.add_argument("--before", type=non_negative_float, default=0.0, help="--event: seconds before its start")
    p.add_argument("--after", type=non_negative_float, default=0.0, help="--event: seconds after its end")
    p.add_argument("--with-data", action="store_true", help="openlabel: also write the images and PCD sweeps")
    p.add_argument("--validate", action="store_true", help="check the file against the OpenLABEL schema")

    p = _add(
        sub,
        "import-labels",
        "write an OpenLABEL file's labels (e.g. corrected in a labelling tool) into a copy of a bag as its "
        "truth topics, for 'mmfusion evaluate'",
        "Example:\n  mmfusion import-labels corrected.json --bag drive_annotated -o drive_corrected\n"
        "  mmfusion evaluate drive_corrected",
        cmd_import_labels,
    )
    p.add_argument("labels", type=existing_path, help="OpenLABEL 1.0 JSON file")
    p.add_argument("--bag", type=existing_path, required=True, help="the bag the labels are of (unchanged)")
    p.add_argument("-o", "--output", type=Path, help="new bag to write (default: BAG_labels beside BAG)")
    p.add_argument("--rig", type=existing_path, help="rig file (default: BAG/rig.yaml, else the shipped rig)")

    model_dir = argparse.ArgumentParser(add_help=False)
    model_dir.add_argument(
        "--model-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="model directory (default: $MMFUSION_MODEL_DIR, else $XDG_DATA_HOME/mmfusion_annotate/models)",
    )
    p = _add(
        sub,
        "models",
        "list the camera detector models the suite knows, or install / fetch one into the model directory",
        "Examples:\n  mmfusion models\n"
        "  mmfusion models install deimv2-femto ~/Downloads/deimv2_hgnetv2_femto_coco.onnx\n"
        "  mmfusion models fetch yolox-nano --model-dir /opt/models",
        cmd_models,
        parents=[model_dir],
    )
    models_sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    q = _add(
        models_sub,
        "install",
        "copy a local model file into the model directory after checking its sha256",
        "Example: mmfusion models install deimv2-femto deimv2_hgnetv2_femto_coco.onnx",
        cmd_models,
        parents=[model_dir],
    )
    q.add_argument("name", help="a model name from 'mmfusion models'")
    q.add_argument("file", type=existing_path, help="the model's .onnx file")
    q = _add(
        models_sub,
        "fetch",
        "download a model from its public source (or --url) into the model directory, checked by sha256",
        "Example: mmfusion models fetch deimv2-femto",
        cmd_models,
        parents=[model_dir],
    )
    q.add_argument("name", help="a model name from 'mmfusion models'")
    q.add_argument("--url", help="download from here instead (a mirror); the checksum is the same")

    p = _add(
        sub,
        "sim",
        "write a synthetic drive (with ground truth) to a bag, or list the scenarios",
        "Examples:\n  mmfusion sim --list\n  mmfusion sim cut_in -o cut_in_bag --contact-sheet cut_in.png",
        cmd_sim,
    )
    p.add_argument("scenario", nargs="?", default="calm", help="built-in scenario or scenario YAML")
    p.add_argument("-o", "--output", type=Path, default=Path("sim_bag"), help="bag directory to write")
    p.add_argument("--list", action="store_true", help="list the built-in scenarios and exit")
    p.add_argument("--rig", type=existing_path, help=rig_help)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--duration", type=positive_float, default=None, help="seconds (default: the scenario's)")
    p.add_argument("--compression", choices=["none", "lz4", "zstd"], default="lz4")
    p.add_argument("--contact-sheet", type=Path, help="also render a contact sheet PNG")

    p = _add(
        sub,
        "rig",
        "validate a rig file and list its sensors",
        "Example: mmfusion rig config/rig_kitti_like.yaml",
        cmd_rig,
    )
    p.add_argument("rig", nargs="?", type=existing_path, help=rig_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    let_openmp_teams_sleep()  # process-wide, so here and not where a kernel first runs
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return int(args.handler(args) or 0)
    except MmfusionError as exc:
        print(f"mmfusion {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"mmfusion {args.command}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:  # e.g. `mmfusion info BAG | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a full disk, an output path that cannot be created
        print(f"mmfusion {args.command}: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
