"""Set-up of processes that render data (shard writers, DataLoader workers, benchmarks).

A 128 px scene allocates about 2 MB of per-sample arrays and frees them again. glibc serves
blocks over its mmap threshold from fresh pages and returns freed heap tops to the system, so
every scene pays ~430 page faults (about 0.5-1 ms of its ~14 ms). A data process is long-lived
and allocates the same sizes again and again: keeping freed memory in the heap removes those
faults (``benchmarks/bench_synthetic.py`` prints the count per scene).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD_BYTES = 256 << 20


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


def prepare_data_worker() -> None:
    """One thread for torch / OpenMP numerics (processes already run one per core) and
    :func:`retain_freed_memory`."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    retain_freed_memory()
