"""Are two replays of one bag the same, message by message? The proof that a speed-up changed no output.

    .venv/bin/python bench/check_outputs_equal.py OUT_A OUT_B [--topics T ...]
    .venv/bin/python bench/check_outputs_equal.py --input BAG --trees TREE_A TREE_B [--config YAML]

The first form compares two annotated bags (``mmfusion replay`` outputs); the second replays ``BAG`` with
the code of two source trees (each a checkout of this repository: ``PYTHONPATH`` picks its package) into
a temporary folder and compares the results. Messages are paired per topic in log order; a pair is equal
when its CDR bytes are, or else when its decoded messages are equal field by field (rclpy's serializer
leaves the CDR alignment padding uninitialised, so the bytes of two equal messages can differ). For a
pair that differs, the walk tells a float that moved in its last bits (``max |diff|`` and the relative
difference) from a changed label, count or string. Exit status 0: every topic identical; 1: some
differ; 2: bad arguments or a replay that failed.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmfusion_annotate.errors import BagError
from mmfusion_annotate.recording import BagReader, deserialize

SHOWN_FIELDS = 8
"""Differing fields listed per topic (the first ones; the counts cover them all)."""


@dataclass
class TopicDiff:
    """How one topic compares: message counts, identical pairs, and the fields of the differing ones."""

    topic: str
    count_a: int = 0
    count_b: int = 0
    identical: int = 0
    """Pairs whose bytes or decoded fields are equal."""
    float_only: int = 0
    """Differing pairs in which only floating-point values differ (same structure, labels, strings)."""
    max_abs: float = 0.0
    max_rel: float = 0.0
    fields: list[str] = field(default_factory=list)
    """``stamp path: a != b`` of the first differing fields (non-float ones first)."""

    @property
    def equal(self) -> bool:
        return self.count_a == self.count_b == self.identical


def _fields(msg: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of an rclpy message or a rosbags dataclass."""
    if hasattr(msg, "get_fields_and_field_types"):
        for name in msg.get_fields_and_field_types():
            yield name, getattr(msg, name)
    else:
        for name in getattr(msg, "__dataclass_fields__", {}):
            if name != "__msgtype__":
                yield name, getattr(msg, name)


def walk(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any, bool]]:
    """(path, a, b, is_float) of every leaf where two decoded messages differ."""
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            yield path, float(a), float(b), True
        return
    if isinstance(a, (np.ndarray, list, tuple)) or type(a).__name__ == "array":
        x, y = np.asarray(a), np.asarray(b)
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub" and x.dtype.kind != "O":
            if x.shape != y.shape:
                yield f"{path}.shape", x.shape, y.shape, False
            elif x.dtype.kind == "f" and not np.array_equal(x, y, equal_nan=True):
                k = int(np.argmax(np.abs(np.nan_to_num(x - y))))
                yield f"{path}[{k}]", float(x.flat[k]), float(y.flat[k]), True
            elif x.dtype.kind != "f" and not np.array_equal(x, y):
                k = int(np.argmax(x != y))
                yield f"{path}[{k}]", x.flat[k].item(), y.flat[k].item(), False
            return
        if len(a) != len(b):
            yield f"{path}.len", len(a), len(b), False
            return
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            yield from walk(u, v, f"{path}[{i}]")
        return
    if hasattr(a, "get_fields_and_field_types") or hasattr(a, "__dataclass_fields__"):
        for (name, u), (_, v) in zip(_fields(a), _fields(b), strict=True):
            yield from walk(u, v, f"{path}.{name}" if path else name)
        return
    if a != b:
        yield path, a, b, False


def _by_topic(bag: Path, topics: set[str] | None) -> dict[str, list[tuple[str, bytes, int]]]:
    out: dict[str, list[tuple[str, bytes, int]]] = defaultdict(list)
    for m in BagReader(bag):
        if topics is None or m.topic in topics:
            out[m.topic].append((m.msgtype, bytes(m.data), m.log_time_ns))
    return out


def compare_bags(a: Path, b: Path, topics: list[str] | None = None) -> list[TopicDiff]:
    """Per topic (all topics of either bag, or ``topics``): how bag ``b``'s messages compare with ``a``'s."""
    wanted = set(topics) if topics else None
    left, right = _by_topic(a, wanted), _by_topic(b, wanted)
    diffs = []
    for topic in sorted(set(left) | set(right) | (wanted or set())):
        xs, ys = left.get(topic, []), right.get(topic, [])
        diff = TopicDiff(topic, len(xs), len(ys))
        for (msgtype, x, stamp), (_, y, _) in zip(xs, ys, strict=False):
            if x == y:
                diff.identical += 1
                continue
            leaves = list(walk(deserialize(msgtype, x), deserialize(msgtype, y)))
            if not leaves:  # only the padding differs
                diff.identical += 1
                continue
            floats = [(u, v) for _, u, v, is_float in leaves if is_float]
            if len(floats) == len(leaves):
                diff.float_only += 1
            for u, v in floats:
                diff.max_abs = max(diff.max_abs, abs(u - v))
                diff.max_rel = max(diff.max_rel, abs(u - v) / max(abs(u), abs(v), 1e-300))
            for path, u, v, _ in sorted(leaves, key=lambda leaf: leaf[3]):  # labels, counts first
                if len(diff.fields) < SHOWN_FIELDS:
                    diff.fields.append(f"{stamp} {path}: {u!r} != {v!r}")
        diffs.append(diff)
    return diffs


def report(diffs: list[TopicDiff]) -> str:
    lines = []
    for d in diffs:
        state = "identical" if d.equal else "DIFFERS"
        line = f"{d.topic}: {d.count_a} / {d.count_b} messages, {d.identical} identical ({state})"
        if d.float_only:
            line += f"; {d.float_only} differ in floats only, max |diff| {d.max_abs:.3g}"
            line += f" (relative {d.max_rel:.2g})"
        lines += [line, *(f"    {f}" for f in d.fields)]
    return "\n".join(lines)


def replay_with(tree: Path, bag: Path, out: Path, config: Path | None) -> None:
    """``mmfusion replay`` of ``bag`` run on the package of source tree ``tree``."""
    command = [sys.executable, "-m", "mmfusion_annotate.cli", "replay", str(bag), "-o", str(out)]
    if config is not None:
        command += ["--config", str(config)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        raise BagError(f"replay with {tree} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bags", nargs="*", type=Path, help="two annotated bags (without --input)")
    parser.add_argument("--input", type=Path, help="replay this bag with each of --trees")
    parser.add_argument("--trees", nargs=2, type=Path, metavar=("TREE_A", "TREE_B"))
    parser.add_argument("--config", type=Path, help="pipeline YAML for both replays")
    parser.add_argument("--topics", nargs="+", help="only these topics (default: every topic)")
    args = parser.parse_args()
    if (args.input is None) == (len(args.bags) != 2) or (args.input is not None) != (args.trees is not None):
        parser.error("give two annotated bags, or --input BAG with --trees TREE_A TREE_B")
    try:
        if args.input is None:
            diffs = compare_bags(args.bags[0], args.bags[1], args.topics)
        else:
            with tempfile.TemporaryDirectory(prefix="outputs_equal_") as tmp:
                outs = [Path(tmp) / name for name in ("a", "b")]
                for tree, out in zip(args.trees, outs, strict=True):
                    replay_with(tree.resolve(), args.input.resolve(), out, args.config)
                diffs = compare_bags(outs[0], outs[1], args.topics)
    except BagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report(diffs))
    return 0 if all(d.equal for d in diffs) else 1


if __name__ == "__main__":
    sys.exit(main())
