"""Process-wide thread settings: ``limit_library_threads`` caps every loaded OpenBLAS and OpenCV's
parallel loops, and only the entry points apply them: building an Annotator or importing the package
changes no pool and no environment variable of the host process."""

import os
import subprocess
import sys

import cv2
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.fusion import FusionConfig
from mmfusion_annotate.library_threads import limit_library_threads
from mmfusion_annotate.rig import default_rig_path


@pytest.fixture
def restore_pools():
    """Give the rest of the suite back the pools it had."""
    opencv = cv2.getNumThreads()
    with threadpool_limits(limits=None):  # restores the BLAS limits on exit
        yield
    cv2.setNumThreads(opencv)


def _blas_threads() -> dict[str, int]:
    return {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def _python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter without OMP_WAIT_POLICY (plus ``env``); its last stdout line."""
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_every_blas_and_opencv_is_capped(restore_pools):
    limit_library_threads(1)
    blas = _blas_threads()
    assert len(blas) >= 2, blas  # numpy's and scipy's own OpenBLAS at least
    assert set(blas.values()) == {1}
    assert cv2.getNumThreads() == 1


def test_building_an_annotator_changes_no_process_setting(rig, restore_pools):
    limit_library_threads(2)
    environ = dict(os.environ)
    Annotator(rig, PipelineConfig(fusion=FusionConfig(cpu_threads=1)))
    assert set(_blas_threads().values()) == {2} and cv2.getNumThreads() == 2
    assert dict(os.environ) == environ


def test_importing_the_pipeline_changes_no_environment_variable():
    code = (
        "import os; before = dict(os.environ)\n"
        "import mmfusion_annotate.annotator, mmfusion_annotate.fusion.fast_cpu, mmfusion_annotate.cli\n"
        "changed = {k for k in os.environ.keys() | before.keys() if os.environ.get(k) != before.get(k)}\n"
        "print(sorted(changed - {'LD_LIBRARY_PATH'}))"  # the pip OpenCV and ROS wheels extend it on import
    )
    assert _python(code) == "[]"


@pytest.mark.parametrize(("user", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_mmfusion_asks_for_sleeping_openmp_teams_unless_the_user_chose(user, expected):
    code = (
        "import os\nfrom mmfusion_annotate.cli import main\n"
        f"assert main(['rig', {str(default_rig_path())!r}]) == 0\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    assert _python(code, **({"OMP_WAIT_POLICY": user} if user else {})) == expected


def test_zero_threads_is_refused():
    with pytest.raises(ValueError, match=">= 1"):
        limit_library_threads(0)
