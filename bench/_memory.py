"""Peak memory of a bench child process (features.py, scale.py).

A child's ``ru_maxrss`` is no measure of it: Linux keeps it across fork and exec, so a child started by a parent
that holds the synthetic companies reports at least the parent's size. VmHWM is the high-water mark of the child's
own address space.
"""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path


def reset_peak_rss() -> None:
    """Forget the peak RSS a forked child inherits from its parent (Linux: clear_refs 5); elsewhere a no-op."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM, since exec or reset_peak_rss), else ru_maxrss where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
