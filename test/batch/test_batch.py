"""The batch runner on both engines: local processes, and Ray's own multi-node test cluster (two raylets on
this host). A worker killed mid-batch is retried, an item that raises is reported and the rest finish."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from mmfusion_annotate.batch import LOST_WORKER, Outcome, iter_batch, run_batch
from mmfusion_annotate.errors import MmfusionError


def square(x: int) -> int:
    return x * x


def square_but_not_3(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return x * x


def die_once(marker: str) -> str:
    """Kills its worker process the first time (as the OOM killer would), succeeds when retried."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(1)
    return path.name


def always_die(_: int) -> None:
    os._exit(1)


def die_beside_a_running_call(item: tuple[int, str]) -> int:
    """A negative item kills its worker once another call is running beside it (its ``started`` marker);
    a positive one marks itself started and takes long enough to still be running then."""
    x, folder = item
    if x < 0:
        deadline = time.monotonic() + 10
        while not list(Path(folder).glob("started*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        os._exit(1)
    (Path(folder) / f"started{x}").touch()
    time.sleep(1.0)
    return x


def where(x: int) -> tuple[int, str]:
    import ray  # noqa: PLC0415

    time.sleep(0.3)  # long enough that both nodes get tasks
    return x, ray.get_runtime_context().get_node_id()


def test_in_process_reports_a_failing_item_and_finishes_the_rest():
    seen: list[Outcome] = []
    outcomes = run_batch(square_but_not_3, range(5), workers=1, progress=seen.append)
    assert [o.result for o in outcomes] == [0, 1, 4, None, 16]
    failed = outcomes[3]
    assert not failed.ok and failed.error.startswith("ValueError: three is refused (at ")
    assert len(seen) == 5 and "\n" not in failed.error


def test_processes_keep_the_item_order_and_report_a_failure():
    outcomes = run_batch(square_but_not_3, range(6), workers=2)
    assert [o.item for o in outcomes] == list(range(6))
    assert [o.ok for o in outcomes] == [True, True, True, False, True, True]
    assert outcomes[5].result == 25 and "three is refused" in outcomes[3].error
    as_finished = iter_batch(square, range(4), workers=2)
    assert sorted(o.result for o in as_finished) == [0, 1, 4, 9]


@pytest.mark.slow
def test_processes_retry_the_items_of_a_killed_worker(tmp_path):
    markers = [str(tmp_path / f"m{i}") for i in range(3)]
    outcomes = run_batch(die_once, markers, workers=2, retries=2)
    assert all(o.ok for o in outcomes), outcomes
    assert [o.result for o in outcomes] == ["m0", "m1", "m2"]
    assert all(o.attempts >= 2 for o in outcomes)  # each killed its worker once


@pytest.mark.slow
def test_processes_do_not_charge_the_calls_lost_beside_a_dying_one(tmp_path):
    """The pool breaks as a whole; without retries left, only the item that kills workers may fail."""
    items = [(x, str(tmp_path)) for x in (1, -1, 2, 3)]
    outcomes = run_batch(die_beside_a_running_call, items, workers=2, retries=0)
    assert [o.ok for o in outcomes] == [True, False, True, True], outcomes
    assert [o.result for o in outcomes] == [1, None, 2, 3]
    assert LOST_WORKER in outcomes[1].error


def test_processes_give_up_after_the_retries():
    outcomes = run_batch(always_die, [1], workers=2, retries=1)
    assert not outcomes[0].ok and outcomes[0].attempts == 2 and LOST_WORKER in outcomes[0].error


def test_ray_missing_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MmfusionError, match="--ray needs Ray, which is not installed"):
        run_batch(square, [1], ray_address="local")


@pytest.fixture
def cluster(ray_cluster):
    """The test cluster, able to run this module's functions (its workers cannot import test/)."""
    import ray  # noqa: PLC0415

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return ray_cluster


@pytest.mark.slow
def test_ray_cluster_spreads_tasks_retries_a_killed_worker_and_reports_a_failure(cluster, tmp_path):
    import ray  # noqa: PLC0415

    outcomes = run_batch(where, range(6), ray_address=cluster.address, max_in_flight=4)
    assert [o.result[0] for o in outcomes] == list(range(6))
    assert len({o.result[1] for o in outcomes}) == 2, "both raylets ran tasks"
    assert not ray.is_initialized(), "a connection the runner made is closed again"

    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    markers = [str(tmp_path / f"m{i}") for i in range(2)]
    killed = run_batch(die_once, markers, ray_address=cluster.address, retries=1)
    assert [(o.ok, o.result, o.attempts) for o in killed] == [(True, "m0", 2), (True, "m1", 2)]
    failing = run_batch(square_but_not_3, range(5), ray_address=cluster.address, max_in_flight=1)
    assert [o.result for o in failing] == [0, 1, 4, None, 16]
    assert "three is refused" in failing[3].error and ray.is_initialized()


@pytest.mark.slow
def test_ray_gives_up_after_the_retries(cluster):
    outcomes = run_batch(always_die, [1], ray_address=cluster.address, retries=0)
    assert not outcomes[0].ok and outcomes[0].attempts == 1 and LOST_WORKER in outcomes[0].error
