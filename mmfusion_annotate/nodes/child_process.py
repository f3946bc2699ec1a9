"""Child processes that die with their parent, whatever kills it.

Why: ``mmfusion demo`` runs ``sim_node`` as a child. When the parent is killed outright (``kill -9``, the
out-of-memory killer) it cannot stop its children, and an orphaned simulator would go on publishing at
full speed. On Linux the kernel sends the child SIGTERM (a clean stop for every node) when the parent
dies: ``prctl(PR_SET_PDEATHSIG)``, requested in the child between fork and exec. The request is tied to
the thread that started the child, so start children from the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _libc_prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once in the parent (a child between fork and exec loads nothing)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def start_child(command: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """``subprocess.Popen(command)`` whose process gets SIGTERM when this process dies (Linux)."""
    parent = os.getpid()

    def die_with_parent() -> None:
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return subprocess.Popen(command, env=env, preexec_fn=die_with_parent)  # noqa: PLW1509 - see module doc
