"""The C allocator of a long-running server: fewer malloc arenas, and free memory handed back.

A mixed run of reads and writes (`bench.memory`) grew the server's RSS while
the Python objects alive stayed put (tracemalloc: +0.6 MB of new cases over
two minutes, RSS +17 MB, and ``malloc_trim(0)`` then brought RSS below where
it started). That is glibc's allocator, not a leak: the threaded server runs
each request in a thread of its own, glibc gives threads their own arenas (up
to 8 per core), a write's new snapshot and the views built from it are
allocated in whichever arena the reading thread has, and freed pages stay in
the arenas. :func:`settle_allocator` caps the arenas and hands free pages back
to the system every `TRIM_INTERVAL_S`. Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

#: glibc's mallopt parameter that caps the number of arenas (malloc.h).
M_ARENA_MAX = -8
#: Arenas a server keeps: two cores' worth of requests side by side without lock waits.
ARENA_MAX = 2
#: Seconds between two hand-backs of free pages (``malloc_trim``: a few ms at township scale).
TRIM_INTERVAL_S = 30.0


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    # malloc_trim exists in glibc only (musl and macOS have no such call).
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def settle_allocator(interval_s: float = TRIM_INTERVAL_S, stop: threading.Event | None = None) -> bool:
    """Cap glibc's arenas at `ARENA_MAX` and start a daemon thread trimming free memory every ``interval_s``.

    Call once in the serving process, before it serves (arenas made before stay).
    Returns whether it could (glibc); ``stop`` ends the thread.
    """
    libc = _glibc()
    if libc is None:
        log.info("not glibc: the allocator is left as it is")
        return False
    libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    stop = stop or threading.Event()

    def trim() -> None:
        while not stop.wait(interval_s):
            libc.malloc_trim(0)

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
    return True
