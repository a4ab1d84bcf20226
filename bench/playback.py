"""What one frame of playback costs, beside a filter change: server time and bytes.

docs/design.md §4 budgets a playback frame (the time control moves to another
moment) to **≤ 50 ms server time** at township scale and **≤ 150 ms** at county
scale, with bytes like a filter change. On a size of `bench.scale` (its store
holds every case's audit trail) this measures, in one process:

1. **The index.** ``History.read`` (`township.read.playback`): the one read of
   the audit trail per data version, in seconds, and how many records it holds.
2. **A frame.** For moments one hour apart over the last 24 hours (the wall's
   replay), cumulative and as a moving 24-hour window:
   ``History.snapshot_at`` + ``make_view`` + the map's ``Patch`` of
   ``map_updates``, serialised as Dash sends it (`bench.filter_bench.map_output_json`),
   which is what the dashboard's callback does for a frame.
3. **A filter change**, the same way on the live snapshot for the filter states
   of `bench.filter_bench.sample_states`: the yardstick beside it.

Times are per call (p50 and p95 over every moment and run, medians over
``--runs``); bytes are the Patch gzipped, as the server sends it.

Run: ``.venv/bin/python -m bench.playback [--size township county] [--runs 3]`` (builds the
scale data first if missing). Prints the table and writes it to ``bench/playback-results.md``;
``bench.run`` runs it at every size beside the other measurements.
"""
from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from app import app_context, create_app
from bench import filter_bench as fb
from bench.scale import build
from township.config import Settings
from township.domain.filters import FilterState
from township.read.playback import History
from township.read.views import make_view
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "playback-results.md"
#: docs/design.md §4: a frame's server time per size, ms.
BUDGET_MS = {"township": 50.0, "county": 150.0, "city": 150.0}
#: The moments of a replay: one an hour over the last day.
FRAMES = 24


def _timed(fn: Callable[[], bytes]) -> tuple[float, float, int]:
    """(wall ms, CPU ms, gzip bytes) of one call. On a shared machine the wall clock also counts the
    neighbours' work; the CPU time is this process's alone."""
    t0, c0 = time.perf_counter(), time.process_time()
    body = fn()
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, len(gzip.compress(body))


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure(ctx: AppContext, runs: int, states: int = 20) -> dict[str, dict[str, float]]:
    """Index build, frames (cumulative and 24-hour window) and filter changes: p50/p95 ms and bytes."""
    tw = ctx.township
    gs = tw.gridset
    snap = tw.snapshot()
    t0 = time.perf_counter()
    with tw.engine.connect() as conn:
        history = History.read(conn, snap.version)
    build_s = time.perf_counter() - t0
    now = utcnow()
    moments = [now - timedelta(hours=h) for h in range(FRAMES, 0, -1)]
    filters = fb.sample_states(gs, states)
    state = FilterState()

    def frame(t, window: float | None) -> bytes:
        view = make_view(history.snapshot_at(snap, t, window_hours=window), gs, state)
        return fb.map_output_json(view, ctx, full=False)

    kinds: dict[str, list[Callable[[], bytes]]] = {
        "frame (cumulative)": [lambda t=t: frame(t, None) for t in moments],
        "frame (24 h window)": [lambda t=t: frame(t, 24.0) for t in moments],
        "filter change": [lambda s=s: fb.map_output_json(make_view(snap, gs, s), ctx, full=False) for s in filters],
    }
    for calls in kinds.values():  # warm up (the first frame lays the index over the snapshot)
        calls[0]()
    out: dict[str, dict[str, float]] = {}
    for name, calls in kinds.items():
        p50s, p95s, cpu50s, nbytes = [], [], [], []
        for _ in range(runs):
            got = [_timed(c) for c in calls]
            ms = [g[0] for g in got]
            p50s.append(_p(ms, 50))
            p95s.append(_p(ms, 95))
            cpu50s.append(_p([g[1] for g in got], 50))
            nbytes += [g[2] for g in got]
        out[name] = {"p50_ms": statistics.median(p50s), "p95_ms": statistics.median(p95s),
                     "cpu_p50_ms": statistics.median(cpu50s), "kb_p95": _p(nbytes, 95) / 1000, "n": len(calls)}
    out["index"] = {"build_s": build_s, "records": history.records, "cases": len(snap.cases)}
    return out


def context(scale) -> AppContext:
    """The app's context on a built size, as the app opens it (no demo seeded)."""
    settings = Settings(database_url=scale.database_url, grids_file=scale.grids_file, role=fb.ROLE, seed_demo=False)
    return app_context(create_app(settings).server)


def rows(size: str, scale, runs: int) -> list[dict]:
    """The rows `bench.run` prints for one size: frame time and bytes beside a filter change, the index build."""
    ctx = context(scale)
    try:
        m = measure(ctx, runs)
    finally:
        ctx.township.engine.dispose()
    idx, fc = m["index"], m["filter change"]
    note = (f"{FRAMES} moments an hour apart over the last day × {runs} runs: History.snapshot_at + make_view + the "
            "map Patch serialised (bench/playback.py); peer: a filter change the same way on the live snapshot")
    out = []
    for kind in ("frame (cumulative)", "frame (24 h window)"):
        f = m[kind]
        out += [
            {"what": f"playback {kind}, server time p95", "ours": f["p95_ms"], "peer": fc["p95_ms"],
             "peer_name": "filter change", "unit": "ms", "ratio": None, "note": note,
             "budget_ms": BUDGET_MS[size]},
            {"what": f"playback {kind}, bytes p95 (gzip)", "ours": f["kb_p95"], "peer": fc["kb_p95"],
             "peer_name": "filter change", "unit": "kB", "ratio": None, "note": "the map Patch, gzip"},
        ]
    out.append({"what": "playback index build", "ours": idx["build_s"], "peer": None, "peer_name": None,
                "unit": "s", "ratio": None,
                "note": f"History.read: {idx['records']:,} audit records of {idx['cases']:,} cases, once per "
                        "data version"})
    return out


def table(results: dict[str, dict[str, dict[str, float]]]) -> list[list[str]]:
    """One line per size and kind: p50, p95, bytes, budget."""
    lines = []
    for size, m in results.items():
        for kind in ("frame (cumulative)", "frame (24 h window)", "filter change"):
            r = m[kind]
            ok = "" if kind == "filter change" else ("✓" if r["p95_ms"] <= BUDGET_MS[size] else "✗")
            lines.append([size, kind, f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['cpu_p50_ms']:.1f}",
                          f"{r['kb_p95']:.1f}", f"≤ {BUDGET_MS[size]:.0f} ms {ok}" if ok else "—"])
        idx = m["index"]
        lines.append([size, f"index build ({idx['records']:,} records, {idx['cases']:,} cases)",
                      f"{idx['build_s'] * 1000:.0f}", "—", "—", "—", "once per data version"])
    return lines


HEADER = ["size", "what", "p50 ms", "p95 ms", "CPU p50 ms", "kB p95 (gzip)", "budget"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", nargs="+", choices=list(BUDGET_MS), default=["township", "county"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    results = {}
    for size in args.size:
        fb.log(started, f"{size}: building or reusing the scale data")
        ctx = context(build(size))
        try:
            results[size] = measure(ctx, args.runs)
        finally:
            ctx.township.engine.dispose()
    lines = table(results)
    print(fb.plain(HEADER, lines))
    md = ["# Playback frames beside filter changes (docs/design.md §4)", "",
          f"`python -m bench.playback --size {' '.join(args.size)} --runs {args.runs}`, "
          f"{time.perf_counter() - started:.0f} s. Machine: {fb.machine()}.", "",
          "Wall times (p50, p95) count the neighbours' work on a shared machine; CPU p50 is this process's own.", "",
          fb.markdown(HEADER, lines), ""]
    args.out.write_text("\n".join(md), encoding="utf-8")
    fb.log(started, f"written to {args.out}")


if __name__ == "__main__":
    main()
