"""``limit_library_threads`` caps every loaded OpenBLAS and OpenCV's parallel loops, and an Annotator
applies its ``fusion.cpu_threads``."""

import cv2
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mmfusion_annotate.annotator import Annotator
from mmfusion_annotate.config import PipelineConfig
from mmfusion_annotate.fusion import FusionConfig
from mmfusion_annotate.library_threads import limit_library_threads


@pytest.fixture
def restore_pools():
    """Give the rest of the suite back the pools it had."""
    opencv = cv2.getNumThreads()
    with threadpool_limits(limits=None):  # restores the BLAS limits on exit
        yield
    cv2.setNumThreads(opencv)


def _blas_threads() -> dict[str, int]:
    return {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_every_blas_and_opencv_is_capped(restore_pools):
    limit_library_threads(1)
    blas = _blas_threads()
    assert len(blas) >= 2, blas  # numpy's and scipy's own OpenBLAS at least
    assert set(blas.values()) == {1}
    assert cv2.getNumThreads() == 1


def test_an_annotator_applies_its_cpu_threads(rig, restore_pools):
    limit_library_threads(2)
    Annotator(rig, PipelineConfig(fusion=FusionConfig(cpu_threads=1)))
    assert set(_blas_threads().values()) == {1} and cv2.getNumThreads() == 1


def test_zero_threads_is_refused():
    with pytest.raises(ValueError, match=">= 1"):
        limit_library_threads(0)
