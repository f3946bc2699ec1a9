import threading
import time

from mmfusion_annotate.nodes.worker import BoundedWorker


def _gated(seen: list):
    """A gate and a handler that waits for it (5 s at most) before noting its item in ``seen``."""
    gate = threading.Event()

    def handler(item) -> None:
        gate.wait(5.0)
        seen.append(item)

    return gate, handler


def test_processes_in_order_and_drains():
    seen: list[int] = []
    worker = BoundedWorker("t", seen.append, capacity=100)
    for i in range(50):
        assert worker.submit(i)
    assert worker.drain(5.0)
    worker.stop()
    assert seen == list(range(50))
    stats = worker.stats()
    assert stats.processed == 50 and stats.dropped_oldest == 0


def test_overflow_drops_oldest_and_counts():
    seen: list[int] = []
    gate, handler = _gated(seen)
    worker = BoundedWorker("t", handler, capacity=3)
    worker.submit(0)
    time.sleep(0.05)  # item 0 is now in the handler, blocked on the gate
    results = [worker.submit(i) for i in range(1, 8)]
    assert results == [True, True, True, False, False, False, False]
    gate.set()
    assert worker.drain(5.0)
    worker.stop()
    assert seen == [0, 5, 6, 7]
    assert worker.stats().dropped_oldest == 4


def test_handler_exception_is_isolated():
    seen: list[int] = []

    def handler(item: int) -> None:
        if item == 1:
            raise RuntimeError("bad frame")
        seen.append(item)

    worker = BoundedWorker("t", handler, capacity=10)
    for i in range(3):
        worker.submit(i)
    assert worker.drain(5.0)
    worker.stop()
    assert seen == [0, 2]
    assert worker.stats().failed == 1


def test_only_droppable_items_count_and_go_oldest_first():
    seen: list[str] = []
    gate, handler = _gated(seen)
    dropped: list[str] = []
    worker = BoundedWorker("t", handler, capacity=2, on_drop=dropped.append,
                           droppable=lambda item: item.startswith("set"), limit=5)  # fmt: skip
    worker.submit("s0")
    time.sleep(0.05)  # s0 is in the handler
    for item in ["s1", "set1", "s2", "set2", "s3", "set3"]:
        worker.submit(item)
    assert dropped == ["set1"] and worker.stats().depth == 2  # the samples stay, the oldest set went
    worker.submit("s4")  # a 6th queued item would pass the limit: the oldest item of any kind goes
    assert dropped == ["set1", "s1"]
    gate.set()
    assert worker.drain(5.0)
    worker.stop()
    assert seen == ["s0", "s2", "set2", "s3", "set3", "s4"]
    assert worker.stats().dropped_oldest == 2


def test_next_pending_is_the_oldest_droppable_item_still_queued():
    seen: list[str] = []
    gate, handler = _gated(seen)
    worker = BoundedWorker("t", handler, capacity=4, droppable=lambda item: item.startswith("set"))
    assert worker.next_pending() is None
    worker.submit("s0")
    time.sleep(0.05)  # s0 is in the handler
    assert worker.next_pending() is None
    for item in ["s1", "set1", "s2", "set2"]:
        worker.submit(item)
    assert worker.next_pending() == "set1"
    gate.set()
    assert worker.drain(5.0)
    worker.stop()
    assert worker.next_pending() is None


def test_put_waits_for_room_instead_of_dropping():
    done: list[int] = []
    release, slow = _gated(done)
    worker = BoundedWorker("backpressure", slow, capacity=1)
    assert worker.put(1) and worker.put(2)  # 1 is being handled, 2 waits in the queue
    assert not worker.put(3, timeout=0.2)  # no room: the producer waits (here: gives up), nothing dropped
    threading.Timer(0.2, release.set).start()
    assert worker.put(3, timeout=5.0)  # room once 2 is taken
    worker.stop()
    assert done == [1, 2, 3] and worker.stats().dropped_oldest == 0


def test_busy_time_is_the_time_spent_in_the_handler():
    worker = BoundedWorker("busy", lambda _: time.sleep(0.05), capacity=4)
    for i in range(3):
        worker.put(i)
    worker.stop()
    assert 0.15 <= worker.stats().busy_s < 1.0
