"""Set-up of processes that render data (shard writers, DataLoader workers, benchmarks).

A 128 px scene allocates about 2 MB of per-sample arrays and frees them again. glibc serves
blocks over its mmap threshold from fresh pages and returns freed heap tops to the system, so
every scene pays ~430 page faults (about 0.5-1 ms of its ~14 ms). A data process is long-lived
and allocates the same sizes again and again: keeping freed memory in the heap removes those
faults (``benchmarks/bench_synthetic.py`` prints the count per scene).

A data process must also die with the process it works for. A DataLoader worker whose trainer
was killed (``kill -9``, the OOM killer) finds out only when its index queue stays empty for 5 s,
and then hangs forever at exit: its result pipe is full and it holds the read end itself, so the
feeder thread never finishes its last write. :func:`exit_with_parent` ends such a process as
soon as its parent dies, however the parent dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import signal
import sys
import threading
import time

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD_BYTES = 256 << 20
_PR_SET_PDEATHSIG = 1
#: seconds between two checks of the parent's pid by the fallback watchdog thread
PARENT_POLL_S = 0.5


def retain_freed_memory() -> bool:
    """Ask glibc malloc to serve blocks under 32 MiB from the heap and to keep up to 256 MiB of
    freed memory instead of returning it to the system. Process-wide; meant for data processes.

    Returns:
        True if the allocator took both settings; False where malloc is not glibc's (macOS,
        Windows, musl), where nothing changes.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return bool(ok and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)


def _die() -> None:
    """End this process at once: no atexit handlers, no joins of queue feeder threads (they would
    block on a pipe nobody reads)."""
    try:
        os.kill(os.getpid(), signal.SIGKILL)
    finally:  # pragma: no cover - SIGKILL does not return
        os._exit(1)


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        if os.getppid() != parent_pid:  # re-parented: the parent is gone
            _die()
        time.sleep(interval)


def exit_with_parent(parent_pid: int | None = None, *, poll_s: float = PARENT_POLL_S) -> bool:
    """Make this process die when its parent process dies (call it first thing in a child).

    Two mechanisms:

    - Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills this process the moment its
      parent exits, even by ``kill -9``. (Strictly, when the parent *thread* that forked it exits:
      create workers from a thread that outlives them, as the training loop does from its main
      thread.)
    - everywhere: a daemon thread that compares ``os.getppid()`` with ``parent_pid`` every
      ``poll_s`` seconds and kills this process when they differ (the parent died and the process
      was re-parented). It also covers a parent that died before the ``prctl`` call.

    Args:
        parent_pid: the parent's pid as the parent saw it (``os.getpid()`` in the parent, passed
            to the child); None reads ``os.getppid()`` now.
        poll_s: the watchdog thread's interval.

    Returns:
        True if the kernel will signal this process (Linux); False where only the watchdog
        thread watches.
    """
    if parent_pid is None:
        parent_pid = os.getppid()
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            armed = False
    if os.getppid() != parent_pid:  # the parent died before prctl: nobody would signal us
        _die()
    threading.Thread(target=_watch_parent, args=(parent_pid, poll_s), name="openbanana-parent-watch",
                     daemon=True).start()
    return armed


def data_loader_worker_init(worker_id: int, parent_pid: int | None = None) -> None:
    """``worker_init_fn`` for the project's DataLoaders: the worker dies with the process that
    created it (:func:`exit_with_parent`). Bind ``parent_pid=os.getpid()`` in the parent, e.g.
    ``functools.partial(data_loader_worker_init, parent_pid=os.getpid())`` (picklable, so it also
    works with the spawn start method)."""
    exit_with_parent(parent_pid)


def prepare_data_worker(parent_pid: int | None = None) -> None:
    """One thread for torch / OpenMP numerics (processes already run one per core) and
    :func:`retain_freed_memory`; with ``parent_pid`` (a pool initializer's argument, the pool
    owner's ``os.getpid()``) also :func:`exit_with_parent`. Without it the calling process is left
    alone, so a main process may call this on itself."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    retain_freed_memory()
