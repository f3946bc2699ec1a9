"""``wait_for_subscribers``: the bounded wait of the nodes that publish a drive or a bag."""

import threading
import time

from mmfusion_annotate.nodes.discovery import unmatched_warning, wait_for_subscribers


class FakePublisher:
    """Counts a subscriber from its ``matched_after``-th query on (None: never)."""

    def __init__(self, matched_after: int | None, topic_name: str = "/t") -> None:
        self.matched_after = matched_after
        self.topic_name = topic_name
        self.queries = 0

    def get_subscription_count(self) -> int:
        self.queries += 1
        return int(self.matched_after is not None and self.queries >= self.matched_after)


def test_returns_at_once_when_every_publisher_is_matched():
    started = time.monotonic()
    assert wait_for_subscribers([FakePublisher(1), FakePublisher(1)], timeout_s=5.0) == []
    assert time.monotonic() - started < 0.5


def test_waits_until_the_last_publisher_is_matched():
    late = FakePublisher(4)
    assert wait_for_subscribers([FakePublisher(1), late], timeout_s=5.0) == []
    assert late.queries == 4


def test_gives_up_after_the_timeout_and_names_the_unmatched():
    never = FakePublisher(None, "/radar")
    started = time.monotonic()
    assert wait_for_subscribers([FakePublisher(1), never], timeout_s=0.1) == [never]
    assert 0.1 <= time.monotonic() - started < 1.0
    assert unmatched_warning([never], 0.1).startswith("no subscriber after 0.1 s on /radar: ")


def test_a_stop_ends_the_wait():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert len(wait_for_subscribers([FakePublisher(None)], timeout_s=30.0, stop=stop)) == 1
    assert time.monotonic() - started < 2.0


def test_no_publishers_is_matched():
    assert wait_for_subscribers([], timeout_s=0.0) == []


def test_no_warning_without_a_wait_or_with_every_topic_matched():
    assert unmatched_warning([FakePublisher(None)], 0.0) is None  # the user did not ask to wait
    assert unmatched_warning([], 2.0) is None
