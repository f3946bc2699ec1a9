"""The shipped Fast DDS large-data profile: named in the environment unless the user named one, and
really applied by Fast DDS (the participant's shared-memory segment is 64 MB, not 512 kB)."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from mmfusion_annotate.nodes.dds_profile import ENV_VARS, large_data_profile, use_large_data_profile

SEGMENT = 64 * 1024 * 1024
PROBE = """
import os, sys
from pathlib import Path
import rclpy
from mmfusion_annotate.nodes.composition import init_context
before = set(os.listdir("/dev/shm"))
context = init_context([], domain_id=int(sys.argv[1]))
node = rclpy.create_node("dds_profile_probe", context=context)
sizes = [os.path.getsize(Path("/dev/shm") / name) for name in set(os.listdir("/dev/shm")) - before
         if name.startswith("fastrtps_") and "port" not in name and not name.endswith("_el")]
print(max(sizes, default=0))
node.destroy_node()
context.try_shutdown()
"""


def test_the_shipped_profile_is_named_for_both_fast_dds_generations():
    env: dict[str, str] = {}
    path = use_large_data_profile(env)
    assert path == str(large_data_profile()) and all(env[name] == path for name in ENV_VARS)


@pytest.mark.parametrize("name", ENV_VARS)
@pytest.mark.parametrize("value", ["/site/fastdds.xml", ""])
def test_a_profile_the_user_named_wins(name, value):
    env = {name: value}
    assert use_large_data_profile(env) == (value or None)
    assert env == {name: value}


def test_the_shipped_profile_gives_shared_memory_a_64_mb_segment():
    root = ET.parse(large_data_profile()).getroot()
    sizes = [int(e.text) for e in root.iter() if e.tag.endswith("segment_size")]
    assert sizes == [SEGMENT]


def _segment_bytes(env_update: dict[str, str]) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS} | env_update
    done = subprocess.run([sys.executable, "-c", PROBE, str(140 + os.getpid() % 50)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return int(done.stdout.split()[-1])


@pytest.mark.dds
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="Fast DDS shared memory lives in /dev/shm here")
def test_fast_dds_applies_it_to_the_nodes_participant():
    assert _segment_bytes({}) >= SEGMENT
    assert 0 < _segment_bytes({ENV_VARS[0]: ""}) < 1024 * 1024  # the user opted out: Fast DDS's 512 kB
