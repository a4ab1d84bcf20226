"""The server's C allocator hands freed memory back (township.runtime.allocator), in a process of its own."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

#: Threads that each allocate many small blocks and free all but every hundredth: the pages stay in
#: the threads' arenas, pinned by the survivors, as a server's per-request threads left them.
SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import psutil
    from township.runtime.allocator import settle_allocator

    settle = sys.argv[1] == "settle"
    if settle:
        assert settle_allocator(interval_s=0.2)
    keep = []

    def work():
        blocks = [bytearray(1000) for _ in range(60_000)]
        keep.append(blocks[::100])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rss = psutil.Process().memory_info().rss
    time.sleep(1.5)
    print((rss - psutil.Process().memory_info().rss) / 1e6)
""")


def _given_back_mb(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    return float(out.stdout.strip())


def test_freed_memory_goes_back_to_the_system():
    # 4 threads × 60,000 blocks of ~1 kB ≈ 240 MB allocated, 99 % of it freed: most of that is handed back.
    assert _given_back_mb("settle") > 50
    assert _given_back_mb("plain") < 20  # without it, glibc keeps the pages (the test can tell)
