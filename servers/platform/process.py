"""Starting child processes that cannot outlive their parent.

util-linux ``setpriv --pdeathsig`` sets the parent-death signal (``PR_SET_PDEATHSIG``) and then
execs the real command, so the kernel signals the child when the thread that forked it dies, even by
SIGKILL. Not a ``preexec_fn``: Python code between fork() and exec() can crash or deadlock in a
process that has other threads (gRPC's, in a server or the test runner).
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Sequence

_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def with_death_signal(argv: Sequence[str], sig: int | None) -> list[str]:
    """``argv`` run so the kernel sends ``sig`` to the child when the thread that started it dies
    (unchanged where setpriv is missing or ``sig`` is None: the caller's own stop still cleans up)."""
    if sig is None or _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, f"--pdeathsig={signal.Signals(sig).name}", "--", *argv]
