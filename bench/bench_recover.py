"""``mmfusion bag recover``: peak memory and time against the file size (issue 26: memory must stay flat).

For each size, writes a cut-off MCAP file of repeated 64 kB messages (LZ4 chunks, one chunk in the middle
filled with garbage, the last chunk cut in half, no summary), then recovers it in a fresh Python process
that reports its own peak RSS and wall time, so one size's memory cannot hide another's.

    .venv/bin/python bench/bench_recover.py                 # 20, 100, 300 MB in a temporary folder
    .venv/bin/python bench/bench_recover.py --sizes 20 50 --dir /tmp/rec
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer

PAYLOAD = 64 * 1024
CHILD = """
import json, resource, sys, time
from mmfusion_annotate.bagtools.recover import recover_bag
start = time.perf_counter()
(result,) = recover_bag(sys.argv[1]).files
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "kept": result.messages, "lost": result.messages_lost, "dropped": result.bytes_dropped}))
"""


def write_damaged(path: Path, size_mb: int) -> tuple[int, int]:
    """A cut-off file of about ``size_mb`` MB with one garbage chunk; (messages written, file size)."""
    noise = os.urandom(PAYLOAD)  # LZ4 cannot shrink it: the file is as large as its payloads
    count = size_mb * 1024 * 1024 // PAYLOAD
    with open(path, "wb") as stream:
        writer = Writer(stream, compression=CompressionType.LZ4, chunk_size=4 * 1024 * 1024)
        writer.start(profile="ros2", library="bench_recover")
        schema = writer.register_schema("std_msgs/msg/ByteMultiArray", "ros2msg", b"uint8[] data")
        channel = writer.register_channel("/blob", "cdr", schema)
        for i in range(count):
            data = i.to_bytes(8, "little") + noise[8:]
            writer.add_message(channel, 1_700_000_000_000_000_000 + i * 10_000_000, data, 0)
        writer.finish()
    with open(path, "rb") as stream:
        chunks = make_reader(stream).get_summary().chunk_indexes
    middle, last = chunks[len(chunks) // 2], chunks[-1]
    with open(path, "r+b") as stream:
        stream.seek(middle.chunk_start_offset + 64)
        stream.write(os.urandom(middle.chunk_length - 64))
        stream.truncate(last.chunk_start_offset + last.chunk_length // 2)
    return count, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 300], help="file sizes in MB")
    parser.add_argument("--dir", type=Path, help="where to write the files (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        header = ("file MB", "messages", "kept", "lost", "dropped MB", "peak RSS MB", "wall s")
        print(" ".join(f"{h:>11}" for h in header))
        for size_mb in args.sizes:
            path = Path(tmp) / f"cut_{size_mb}.mcap"
            written, size = write_damaged(path, size_mb)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            row = (f"{size / 1e6:.1f}", written, r["kept"], r["lost"], f"{r['dropped'] / 1e6:.2f}",
                   f"{r['peak_rss_mb']:.1f}", f"{r['wall_s']:.2f}")  # fmt: skip
            print(" ".join(f"{str(v):>11}" for v in row))
            for leftover in Path(tmp).iterdir():
                leftover.unlink()


if __name__ == "__main__":
    main()
