"""Keyboard control of playback, as ``ros2 bag play`` offers it: space pauses and resumes, ``s`` or the
right arrow steps one message while paused.

The terminal is put in cbreak mode (keys arrive one by one, unechoed; Ctrl-C still interrupts) for as long
as the reader runs, and restored after. A thread polls with a timeout so that it ends when asked.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import tty
from collections.abc import Callable

from mmfusion_annotate.bagtools.play import PlaybackControl

RIGHT_ARROW = b"\x1b[C"
HELP = "keys: space pause/resume, s or right arrow: step one message while paused"


def is_foreground_terminal(stream) -> bool:
    """True when ``stream`` is a terminal and this process is in its foreground (a player started with
    ``&`` must not touch its controlling terminal: changing the mode would stop the process)."""
    try:
        if not stream.isatty():
            return False
        fd = stream.fileno()
    except (ValueError, AttributeError):  # closed, or a stand-in without a descriptor
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # a terminal that is not the controlling one: no job control on it
        return True


def apply_keys(keys: bytes, control: PlaybackControl, report: Callable[[str], None] | None = None) -> None:
    """Apply what was typed (one read's bytes) to ``control``; ``report`` hears what changed."""
    say = report or (lambda _line: None)
    keys = keys.replace(RIGHT_ARROW, b"s")
    for key in keys:
        if key == ord(" "):
            say("paused" if control.toggle() else "playing")
        elif key in (ord("s"), ord("S")):
            say("step" if control.step() else "step: pause first (space)")


class KeyboardReader:
    """Reads keys from a terminal file descriptor into a ``PlaybackControl`` on a thread of its own."""

    def __init__(
        self, fd: int, control: PlaybackControl, report: Callable[[str], None] | None = None
    ) -> None:
        self._fd = fd
        self._control = control
        self._report = report
        self._stop = threading.Event()
        self._saved = termios.tcgetattr(fd)
        self._thread = threading.Thread(target=self._run, name="play-keys", daemon=True)

    def __enter__(self) -> KeyboardReader:
        tty.setcbreak(self._fd)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1.0)
        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if not ready:
                continue
            try:
                keys = os.read(self._fd, 16)
            except OSError:  # the terminal went away: playback goes on without keys
                return
            if not keys:
                return
            apply_keys(keys, self._control, self._report)
