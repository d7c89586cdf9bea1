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


def _vm_hwm_mb(pid: int | str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM, since exec or reset_peak_rss), else ru_maxrss where /proc is absent."""
    own = _vm_hwm_mb("self")
    return own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_rss_mb() -> list[float]:
    """The peak RSS of each live multiprocessing child of this process (a run's worker pool, kept until the
    process exits): with this process's own peak, an upper bound of what the run held at once."""
    import multiprocessing

    peaks = [_vm_hwm_mb(child.pid) for child in multiprocessing.active_children() if child.pid]
    return [peak for peak in peaks if peak is not None]
