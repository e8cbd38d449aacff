"""What the benchmarks measure about the processes they start: ports, CPU time, memory.

Shared by every script in this folder (they run as ``python bench/<name>.py``, so this module
is importable beside them).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn workers, forked boxes).

    Each thread lists the children it started, so every thread's list is read: a child
    started from a thread other than the main one is still found."""
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            for child in children.read_text().split():
                found.extend(descendants(int(child)))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` summed over the process and its descendants now alive: read before and
    after a load window, the difference is what the server spent on it (a child that ended
    in between takes its time with it, so keep the window free of restarts)."""
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):  # it ended meanwhile
            total += cpu_seconds(p)
    return total


def tree_memory_mib(pid: int, field: str = "VmRSS") -> float:
    """``memory_mib`` summed over the process and its descendants (gone ones count 0)."""
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):  # it ended meanwhile
            total += memory_mib(p, field)
    return total
