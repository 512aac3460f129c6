"""NumPy's transparent-huge-page advice, switched off for the command line's own process.

NumPy asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``) on every array of 4 MB or more. With the
Linux default ``/sys/kernel/mm/transparent_hugepage/defrag = madvise`` the first touch of such an array may
stall while the kernel compacts memory to find a free 2 MB page. One ``liverlesion segment`` run allocates
hundreds of MB once and never reuses it, so it pays that stall and gets little back: on IRCAD 7
(512 × 512 × 151) the pipeline took 6.3–6.9 s with the advice and 4.6–5.1 s without it, in the same session
(2 cores; ``benchmarks/bench_inference.py`` shows the end-to-end effect).
"""

from __future__ import annotations

import os

#: NumPy's own switch; when the user sets it, their choice stands.
NUMPY_SWITCH = "NUMPY_MADVISE_HUGEPAGE"


def stop_huge_page_advice() -> bool:
    """Stop NumPy advising huge pages for arrays allocated from now on, unless ``NUMPY_MADVISE_HUGEPAGE`` is
    set. Returns whether the advice is now off (False when the user's setting stands or NumPy lacks the switch)."""
    if NUMPY_SWITCH in os.environ:
        return False
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # NumPy < 2 keeps it in numpy.core; older or other builds may lack it
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return False
    _set_madvise_hugepage(False)
    return True
