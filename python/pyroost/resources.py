"""Memory figures for the ``stats`` command.

On Linux the current resident set size comes from ``/proc/self/statm``. Other
platforms have no cheap source for it, so the peak from ``getrusage`` is
reported instead. ``ru_maxrss`` is in KiB on Linux and in bytes on macOS.
"""

from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # Windows has no resource module.
    resource = None  # type: ignore[assignment]


def max_rss_bytes() -> int | None:
    """Return the peak resident set size in bytes, or None if unknown."""
    if resource is None:
        return None
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        return max_rss
    return max_rss * 1024


def rss_bytes() -> int | None:
    """Return the current resident set size in bytes, or the peak if unknown."""
    current = _read_statm_rss_bytes()
    if current is not None:
        return current
    return max_rss_bytes()


def _read_statm_rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            fields = statm.read().split()
    except OSError:
        return None
    # The second field is the resident set size in pages.
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
