"""Export speed and file sizes: a replayed bag to OpenLABEL (labels only, then with images and sweeps) and
to COCO, then the OpenLABEL file back into a bag's truth topics.

    .venv/bin/python bench/bench_export.py BAG [--repeat 3] [--out /tmp/bench_export]

``BAG`` is a bag with pre-labels (``mmfusion replay`` output). Each export is timed end to end (reading
the bag included, the Python start-up not), best of ``--repeat``; frames/s = fused frames / seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from mmfusion_annotate.export import export_bag, import_labels
from mmfusion_annotate.export.schema import validate
from mmfusion_annotate.recording.bag_dir import bag_rig_file
from mmfusion_annotate.rig import default_rig_path, load_rig


def _size(path: Path) -> int:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def _best(repeat: int, run) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bag", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_export"))
    args = parser.parse_args()
    rig = load_rig(bag_rig_file(args.bag) or default_rig_path())
    print(f"bag {args.bag}: {_size(args.bag) / 2**20:.1f} MiB, rig {rig.name}")
    for name, kwargs in (
        ("openlabel", {}),
        ("openlabel --with-data", {"with_data": True}),
        ("coco", {"fmt": "coco"}),
    ):
        out = args.out / name.replace(" ", "")

        def run(out=out, kwargs=kwargs):
            shutil.rmtree(out, ignore_errors=True)
            return export_bag(args.bag, out, rig, **kwargs)

        seconds, summary = _best(args.repeat, run)
        label_bytes = sum(p.stat().st_size for p in summary.files)
        rate = summary.frames / seconds
        print(f"{name:<24} {summary.frames} frames  {seconds:6.2f} s  {rate:6.1f} frames/s  "
              f"label files {label_bytes / 1024:8.1f} KiB  all files {_size(out) / 2**20:7.1f} MiB "
              f"({summary.data_files} data files)")  # fmt: skip
    label_file = next((args.out / "openlabel").glob("*.json"))
    document = json.loads(label_file.read_text())
    seconds, _ = _best(args.repeat, lambda: validate(document))
    print(f"{'schema validation':<24} {seconds:6.2f} s")
    target = args.out / "imported"

    def back():
        shutil.rmtree(target, ignore_errors=True)
        return import_labels(label_file, args.bag, target, rig)

    seconds, summary = _best(1, back)
    print(
        f"{'import-labels':<24} {summary.frames} frames  {seconds:6.2f} s  (copy of the whole bag included)"
    )


if __name__ == "__main__":
    main()
