"""Pause, resume and step of playback (no DDS): the control object, the pacer under it, and the keyboard
reader driven through a pseudo-terminal as a user's terminal drives it."""

from __future__ import annotations

import os
import pty
import termios
import time

import pytest
from bag_samples import PERIOD, T0

from mmfusion_annotate.bagtools.play import Pacer, PlaybackControl, play_messages
from mmfusion_annotate.bagtools.play_keys import KeyboardReader, apply_keys
from mmfusion_annotate.recording.reader import BagMessage


class FakeTime:
    """A monotonic clock that only moves when the pacer sleeps (pauses wait on the control instead)."""

    def __init__(self) -> None:
        self.now = 100.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_step_only_while_paused_and_toggle_clears_pending_steps():
    control = PlaybackControl()
    assert not control.step() and control.hold(0.0) == "play"
    assert control.toggle() is True and control.hold(0.0) == "paused"
    assert control.step() and control.step()
    assert control.hold(0.0) == "step" and control.hold(0.0) == "step" and control.hold(0.0) == "paused"
    control.step()
    control.resume()  # a step pending when playback resumes is dropped, not replayed later
    control.pause()
    assert control.hold(0.0) == "paused"


def test_paused_playback_freezes_the_clock_steps_one_message_and_resumes_without_a_burst():
    fake = FakeTime()
    control = PlaybackControl(paused=True)
    messages = [BagMessage("/a", "x/msg/A", bytes([i]), T0 + i * PERIOD) for i in range(4)]
    published: list[tuple[float, int]] = []
    ticks: list[int] = []

    def tick(bag_ns: int) -> None:
        ticks.append(bag_ns)
        if len(ticks) == 3:
            control.step()  # while paused at the first message: it is published at once
        elif len(ticks) == 6:
            control.resume()

    pacer = Pacer(1.0, clock_period_s=0.001, now=lambda: fake.now, sleep=fake.sleep)
    stats = play_messages(lambda: messages, lambda m: published.append((fake.now, m.log_time_ns)), pacer,
                          clock=tick, control=control)  # fmt: skip
    assert [t for _, t in published] == [m.log_time_ns for m in messages]
    assert ticks[:2] == [T0, T0]  # paused before anything: the clock stands at the first stamp
    first_wall = published[0][0]
    # resumed at the second message's stand-still: the rest follow at the recorded pace from there
    walls = [w - published[1][0] for w, _ in published[1:]]
    assert walls == pytest.approx([0.0, PERIOD / 1e9, 2 * PERIOD / 1e9])
    assert published[1][0] >= first_wall and stats.messages == 4


def test_keys_map_to_pause_step_and_resume():
    control = PlaybackControl()
    heard: list[str] = []
    apply_keys(b"s", control, heard.append)  # not paused: nothing to step
    apply_keys(b" ", control, heard.append)
    apply_keys(b"s\x1b[C", control, heard.append)  # s and the right arrow both step
    assert heard == ["step: pause first (space)", "paused", "step", "step"]
    assert [control.hold(0.0) for _ in range(3)] == ["step", "step", "paused"]
    apply_keys(b" ", control, heard.append)
    assert heard[-1] == "playing" and not control.paused


def test_keyboard_reader_on_a_pseudo_terminal_and_the_terminal_is_restored():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        control = PlaybackControl()
        heard: list[str] = []
        with KeyboardReader(slave, control, heard.append):
            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # keys arrive one by one
            os.write(master, b" ")
            _until(lambda: control.paused)
            os.write(master, b"\x1b[C")
            _until(lambda: heard[-1:] == ["step"])
            os.write(master, b" ")
            _until(lambda: not control.paused)
        assert heard == ["paused", "step", "playing"]
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def _until(condition, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the key was not applied in time"
        time.sleep(0.01)
