import platform
import subprocess
import sys

import pytest

from openbanana.data.workers import retain_freed_memory

_FAULTS = """
import resource, sys
import numpy as np
from openbanana.data.workers import retain_freed_memory
took = retain_freed_memory() if sys.argv[1] == "1" else False
def churn():  # like a frame: several arrays over the mmap threshold alive at once, then freed
    for _ in range(20):
        arrays = [np.ones(80_000) for _ in range(8)]  # 8 x 640 KiB
        del arrays
churn()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _faults(retain: bool) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _FAULTS, "1" if retain else "0"], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc malloc only")
def test_retained_memory_is_reused_without_page_faults():
    took, with_retain = _faults(True)
    _, default = _faults(False)
    assert took == "True"
    # by default the freed heap top (5 MiB, over twice the largest block) goes back to the system
    # and 20 x 5 MiB are faulted in again (~1250 pages a round); with the setting it is reused
    assert default > 5000
    assert with_retain < 200


def test_reports_whether_the_allocator_took_it():
    assert isinstance(retain_freed_memory(), bool)
