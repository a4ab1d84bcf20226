"""Server memory over a mixed run: docs/design.md §4 budgets **RSS ≤ 400 MB, flat over 10 min of mixed
reads and writes** (township).

The app (``tests.conftest.LiveServer``, ``python app.py``, the Werkzeug threaded
server) runs on a fresh SQLite store that it seeds with the demo year. Four
client threads, each with its own keep-alive session, loop over a mix of

- ``GET /api/v1/cases`` (a page of 200 under a random filter),
- the dashboard's filter callback (``POST /_dash-update-component``, the body
  headless Chromium sent for a filter click, captured once by
  `bench.filter_bench.capture` and replayed with random filter states: map
  ``Patch``, headline, charts, statistics), and
- the statistics section's callback (``stats-body``, which follows the same
  filter state and the data version the map has drawn: it reads the audit
  trail's entry times of each new version), and
- ``POST /api/v1/cases`` (one new case at a random grid, a durable commit and a new data version),

in the proportions of ``--mix`` (``read``, ``filter``, ``stats``, ``write``; default 4:3:1:2),
for ``--minutes``. The app process's RSS (psutil, with its children) is
sampled every ``--every`` seconds. Reported: RSS at the start of the mix
(after one warm-up minute), at the end, the peak, and the slope of a
least-squares line over the second half (MB per minute): flat means a slope
near 0.

``--env KEY=VALUE`` passes settings to the app process (e.g.
``MALLOC_ARENA_MAX=8`` to compare allocator settings).

Run: ``.venv/bin/python -m bench.memory [--minutes 10] [--mix read filter write]``
(``bench.run`` runs it with ``--memory-minutes``; ``--skip memory`` leaves it out).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from bench import filter_bench as fb
from bench.cold_load import rss_mb
from bench.ingest import remove_bench_rows
from tests.conftest import LiveServer
from township.accounts.tokens import create_token
from township.config import BUNDLED_GRIDS
from township.domain.filters import WINDOWS
from township.domain.vocab import DOMAINS
from township.grids.validate import load_grid_file
from township.store.engine import make_engine
from ui import ids

#: Client threads: more than the two cores, so that the server runs requests side by side.
CLIENTS = 4
MIX = {"read": 4, "filter": 3, "stats": 1, "write": 2}
#: The cases a run writes, and its token: removed from the store at the end.
PREFIX = "BENCH-MEM"
TOKEN_NAME = "bench-memory"


@dataclass
class Run:
    """What one run measured: RSS samples (seconds since the mix began, MB) and requests per kind."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """RSS at the start and end, its peak, and the slope over the second half (MB/min)."""
        t = np.array([s[0] for s in self.samples])
        mb = np.array([s[1] for s in self.samples])
        half = t >= t[-1] / 2
        slope = float(np.polyfit(t[half] / 60, mb[half], 1)[0]) if half.sum() >= 2 else float("nan")
        return {"start_mb": float(mb[0]), "end_mb": float(mb[-1]), "peak_mb": float(mb.max()),
                "slope_mb_per_min": slope, "minutes": float(t[-1] / 60)}


def stats_body(state, version: int) -> bytes:
    """The statistics callback's request for ``state`` after the map drew ``version`` (as the page sends it)."""
    return json.dumps({
        "output": f"{ids.STATS_BODY}.children", "outputs": {"id": ids.STATS_BODY, "property": "children"},
        "inputs": [{"id": ids.STATE, "property": "data", "value": state.model_dump()},
                   {"id": ids.DRAWN, "property": "data", "value": version}],
        "changedPropIds": [f"{ids.DRAWN}.data"],
    }).encode()


def _worker(kind_weights: dict[str, int], stop: threading.Event, seed: int, base: str, token: str,
            cap: fb.Captured, states: list, points: list[tuple[float, float]], run: Run,
            lock: threading.Lock) -> None:
    rnd = random.Random(seed)
    kinds = [k for k, w in kind_weights.items() for _ in range(w)]
    session = requests.Session()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    n = 0
    while not stop.is_set():
        kind = rnd.choice(kinds)
        n += 1
        if kind == "read":
            params = {"limit": 200, "window": rnd.choice(list(WINDOWS)), "domain": rnd.choice(list(DOMAINS))}
            r = session.get(base + "/api/v1/cases", params=params, timeout=120)
        elif kind == "stats":
            version = session.get(base + "/api/v1/version", timeout=60).json()["version"]
            r = session.post(base + cap.path, data=stats_body(rnd.choice(states), version), timeout=120,
                             headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"})
        elif kind == "filter":
            body = fb.bodies(cap, rnd.choice(states))["filter"]
            r = session.post(base + cap.path, data=body, timeout=120,
                             headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"})
        else:
            lon, lat = rnd.choice(points)
            case = {"source": "hotline", "external_id": f"{PREFIX}-{seed}-{n}", "type": "hotline",
                    "domain": rnd.choice(list(DOMAINS)), "title": "内存测试", "lon": lon, "lat": lat}
            r = session.post(base + "/api/v1/cases", data=json.dumps(case), headers=auth, timeout=120)
        with lock:
            run.requests[kind] = run.requests.get(kind, 0) + 1
            if r.status_code >= 400:
                run.errors[kind] = run.errors.get(kind, 0) + 1


def measure(minutes: float, mix: dict[str, int], env: dict[str, str] | None = None, every: float = 5.0,
            warmup: float = 60.0, grids_file: Path = BUNDLED_GRIDS, log=print) -> Run:
    """One run: the app on ``env``'s store (default: a fresh one, seeded with the demo year) and
    ``grids_file``, ``warmup`` seconds of the mix, then ``minutes`` of it, RSS sampled every ``every`` s.

    The cases it writes (``external_id`` ``BENCH-MEM-…``) and its token are deleted at the end.
    """
    gs = load_grid_file(grids_file)
    points = [(p.x, p.y) for p in (gs.geometry(g).representative_point() for g in gs.ids(level=3))]
    with tempfile.TemporaryDirectory() as tmp:
        srv = LiveServer(Path(tmp), {**fb.APP_ENV, **(env or {})}).start()
        engine = make_engine(srv.database_url)
        try:
            token = create_token(engine, TOKEN_NAME, "command", None)
            cap = fb.capture(srv.url)
            states = fb.sample_states(gs, 60)
            run, lock, stop = Run(), threading.Lock(), threading.Event()
            threads = [threading.Thread(target=_worker, args=(mix, stop, k, srv.url, token, cap, states, points,
                                                              run, lock), daemon=True) for k in range(CLIENTS)]
            for th in threads:
                th.start()
            time.sleep(warmup)
            t0 = time.monotonic()
            while (now := time.monotonic() - t0) < minutes * 60:
                run.samples.append((now, rss_mb(srv.proc.pid)))
                log(f"  {now / 60:5.1f} min  RSS {run.samples[-1][1]:6.0f} MB  requests {run.requests}")
                time.sleep(every)
            run.samples.append((time.monotonic() - t0, rss_mb(srv.proc.pid)))
            stop.set()
            for th in threads:
                th.join(150)
            return run
        finally:
            srv.stop()
            engine.dispose()
            remove_bench_rows(srv.database_url, TOKEN_NAME, PREFIX)


def rows(grids_file: Path, env: dict[str, str], minutes: float) -> list[dict]:
    """`bench.run`'s rows: the peak RSS of a mixed run (held to the RSS budget) and its slope."""
    run = measure(minutes, MIX, env, grids_file=grids_file)
    s = run.summary()
    note = (f"{s['minutes']:.1f} min of the mix after a minute's warm-up, {CLIENTS} clients, requests "
            f"{run.requests}, errors {run.errors or 'none'}; RSS {s['start_mb']:.0f} MB at the start, "
            f"{s['end_mb']:.0f} MB at the end, {s['peak_mb']:.0f} MB at the peak (bench/memory.py)")
    return [
        {"what": f"server RSS, peak of {minutes:g} min mixed", "ours": s["peak_mb"], "peer": None, "peer_name": None,
         "unit": "MB", "ratio": None, "note": note},
        {"what": "RSS slope, mixed run's second half", "ours": s["slope_mb_per_min"], "peer": None,
         "peer_name": None, "unit": "MB/min", "ratio": None, "note": None},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--mix", nargs="+", choices=list(MIX), default=list(MIX))
    ap.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    ap.add_argument("--env", nargs="*", default=[], help="KEY=VALUE settings of the app process")
    args = ap.parse_args()
    env = dict(kv.split("=", 1) for kv in args.env)
    run = measure(args.minutes, {k: MIX[k] for k in args.mix}, env, args.every)
    print(json.dumps({"mix": args.mix, "env": env, **run.summary(), "requests": run.requests,
                      "errors": run.errors}, indent=1))


if __name__ == "__main__":
    main()
