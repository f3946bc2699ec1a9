"""Ray's own multi-node test cluster and a few short drives, made once for the tests of this folder."""

import shutil
from pathlib import Path

import pytest
from rigs import write_small_rig

from mmfusion_annotate.cli import main


@pytest.fixture(scope="session")
def ray_cluster():
    """A head and a second raylet on this host, one CPU each; the tests connect through its address."""
    import ray  # noqa: PLC0415 - only the tests that use the cluster pay for importing Ray
    from ray.cluster_utils import Cluster  # noqa: PLC0415

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def drives(tmp_path_factory) -> tuple[Path, list[Path], Path]:
    """Two short synthetic drives with a small rig (carried in each bag, as imported bags carry theirs), and
    a folder that is not a bag."""
    tmp = tmp_path_factory.mktemp("batch")
    rig = write_small_rig(tmp)
    bags = []
    for scenario in ("cut_in", "hard_braking"):
        bag = tmp / "bags" / scenario
        assert main(["sim", scenario, "--duration", "0.6", "--rig", str(rig), "-o", str(bag)]) == 0
        shutil.copyfile(rig, bag / "rig.yaml")
        bags.append(bag)
    broken = tmp / "bags" / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, mapping]\n")
    return tmp, bags, broken
