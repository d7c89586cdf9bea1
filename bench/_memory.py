"""Peak memory of a bench child process (features.py, scale.py).

A child's ``ru_maxrss`` is no measure of it: Linux keeps it across fork and exec, so a child started by a parent
that holds the synthetic companies reports at least the parent's size. VmHWM is the high-water mark of the child's
own address space. A run with worker processes is measured as a tree (TreeMemory): the sum of the processes'
peaks bounds it from above, since each counts the libraries every process maps and the peaks need not coincide.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
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


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process this one can see (/proc/<pid>/stat)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            out[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    return out


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rollup_kb(pid: int) -> dict[str, int]:
    """Rss and Pss (kB) of one process from /proc/<pid>/smaps_rollup; empty when it is gone."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                out[name] = int(rest.split()[0])
    return out


def server_process(names: tuple[str, ...] = ("mariadbd", "mysqld")) -> int | None:
    """The pid of a database server running on this machine (by its command name), or None: a bench against a
    local server counts the server's CPU beside the run's."""
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if stat.read_text().strip() in names:
                return int(stat.parent.name)
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds one process has used so far (/proc/<pid>/stat); None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TreeMemory(threading.Thread):
    """Samples, every ``interval`` seconds, the memory of a process and its descendants (a run and its worker
    pool) and keeps the largest totals: PSS, each shared page counted once across the tree (the memory the tree
    held at once), and RSS (shared library pages counted in every process that maps them). A sample misses a
    peak shorter than the interval; the processes' own high-water marks (VmHWM) bound it from above.

    It also keeps each process's CPU seconds as last seen (``cpu_seconds``: the root's and its descendants'),
    which says whether a run's cores were busy or waiting."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_pss_mb = self.peak_rss_mb = 0.0
        self.processes = 0
        self.cpu_seconds: dict[int, float] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            pids = _tree(self.root)
            rollups = [_rollup_kb(pid) for pid in pids]
            self.peak_pss_mb = max(self.peak_pss_mb, sum(r.get("Pss", 0) for r in rollups) / 1024)
            self.peak_rss_mb = max(self.peak_rss_mb, sum(r.get("Rss", 0) for r in rollups) / 1024)
            self.processes = max(self.processes, sum(1 for r in rollups if r))
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    self.cpu_seconds[pid] = seconds
            self._done.wait(self.interval)

    def stop(self) -> TreeMemory:
        self._done.set()
        self.join()
        return self
