"""Hotspots and recurrence: Getis-Ord Gi* over the level-3 grids, Mann-Kendall trends per grid, repeat spots.

The rules are in ``docs/design.md §1a`` (Hotspots): counts per grid of the
chosen domain, case type and window (or per 100 households, the rate), Queen
contiguity of the grid polygons row-standardised with each grid its own
neighbour (Gi*), 999 permutations with a fixed seed, Benjamini–Hochberg over
all grids at each confidence (99 / 95 / 90 %) and the bins ±3 / ±2 / ±1 (0: not
significant). esda and libpysal are imported on first use: they take seconds
to import, and the app starts without them being asked for.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from township.domain.isotime import LOCAL_TZ
from township.domain.policy import Viewer, may_see_village
from township.grids.model import GridSet
from township.grids.spatial import to_metric_xy

if TYPE_CHECKING:
    from libpysal.weights import W

    from township.read.snapshot import Snapshot

__all__ = ["CONFIDENCE", "HOTSPOT_WINDOWS", "PERMUTATIONS", "REPEAT_DAYS", "REPEAT_RADIUS_M", "SEED", "TRENDS",
           "TREND_MONTHS", "GridWeights", "HotspotModel", "HotspotResult", "analyse", "bh_reject", "bins_of", "gi_star",
           "grid_counts", "households", "month_starts", "township_hotspots", "for_viewer",
           "in_window", "mann_kendall", "monthly_counts", "repeat_spots", "trend_label"]

#: Windows a hotspot analysis may look back over (days).
HOTSPOT_WINDOWS: dict[str, int] = {"30d": 30, "90d": 90, "365d": 365}
#: Permutations of the conditional randomisation, and its seed (the same data give the same answer).
PERMUTATIONS = 999
SEED = 12345
#: Confidence of each bin: |bin| 3, 2, 1 (hot positive, cold negative).
CONFIDENCE: tuple[float, ...] = (0.99, 0.95, 0.90)
#: Months a trend is tested over (whole Beijing months before the current one), and its significance.
TREND_MONTHS = 12
TREND_ALPHA = 0.05
#: A grid is persistent with cases in at least this share of the months, new with cases only in the last few.
PERSISTENT_SHARE = 0.75
NEW_MONTHS = 3
#: The trend labels, in the order the rules try them (``docs/design.md §1a``).
TRENDS: tuple[str, ...] = ("new", "intensifying", "diminishing", "persistent", "sporadic")
#: A repeat spot: a case within this many metres of an earlier one, reported within this many days of it.
REPEAT_RADIUS_M = 50.0
REPEAT_DAYS = 30
#: Analyses a `HotspotModel` keeps (a few choices of domain, type and window per data version).
RESULTS_KEPT = 16


@dataclass(frozen=True)
class GridWeights:
    """Queen contiguity of the level-3 grids of one grid set (``ids`` order), each grid its own neighbour too,
    and which have no neighbour but themselves."""

    ids: tuple[str, ...]
    neighbors: dict[str, list[str]]
    weights: dict[str, list[float]]
    islands: np.ndarray  # bool per grid

    def w(self) -> W:
        """A fresh libpysal ``W``: esda sets its transform in place, so one shared between analyses would carry
        one analysis's state into the next."""
        from libpysal.weights import W

        return W(self.neighbors, self.weights, id_order=list(self.ids), silence_warnings=True)


class HotspotModel:
    """The contiguity weights per grid set, built on first use and kept while that grid set lives; and the
    last few analyses (999 permutations take a while), keyed by everything they depend on."""

    def __init__(self, keep: int = RESULTS_KEPT) -> None:
        self._weights: weakref.WeakKeyDictionary[GridSet, GridWeights] = weakref.WeakKeyDictionary()
        self._results: OrderedDict[Hashable, HotspotResult] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def result(self, key: Hashable, compute: Callable[[], HotspotResult]) -> HotspotResult:
        """The analysis of ``key`` (data version, grid set, choices …), computed by ``compute`` when not kept."""
        with self._lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
                return found
        found = compute()  # outside the lock: another analysis need not wait for this one
        with self._lock:
            self._results[key] = found
            while len(self._results) > self._keep:
                self._results.popitem(last=False)
        return found

    def weights(self, gridset: GridSet) -> GridWeights:
        """Queen weights of ``gridset``'s level-3 polygons (libpysal; a grid touching only at a corner counts)."""
        with self._lock:
            found = self._weights.get(gridset)
            if found is None:
                from libpysal.weights import Queen
                from libpysal.weights.util import fill_diagonal

                ids = tuple(gridset.ids(level=3))
                w = Queen.from_iterable([gridset.geometry(g) for g in ids], ids=list(ids), silence_warnings=True)
                islands = np.isin(np.array(ids, dtype=object), np.array(w.islands, dtype=object))
                w = fill_diagonal(w, 1.0)  # Gi*: each grid is its own neighbour
                found = self._weights[gridset] = GridWeights(
                    ids, {k: list(v) for k, v in w.neighbors.items()},
                    {k: list(v) for k, v in w.weights.items()}, islands)
            return found


def in_window(reported_at: np.ndarray | pd.Series, now: datetime, days: int) -> np.ndarray:
    """Cases reported in the ``days`` up to ``now``: ``now - days <= reported_at <= now`` (the start is in)."""
    start = np.datetime64(now - timedelta(days=days))
    times = np.asarray(reported_at, dtype="datetime64[us]")
    return (times >= start) & (times <= np.datetime64(now))


def grid_counts(cases: pd.DataFrame, ids: tuple[str, ...] | list[str], mask: np.ndarray) -> np.ndarray:
    """Cases of ``mask`` per grid of ``ids`` (cases outside every grid are not counted)."""
    counts = pd.Series(cases["grid_id"].to_numpy()[mask]).value_counts()
    return counts.reindex(list(ids), fill_value=0).to_numpy(dtype=float)


def bh_reject(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini–Hochberg: which of ``p`` are rejected at false-discovery rate ``alpha`` (NaN: never)."""
    out = np.zeros(p.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(p))
    if valid.size == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    below = np.flatnonzero(p[order] <= alpha * np.arange(1, order.size + 1) / order.size)
    if below.size:
        out[order[: below[-1] + 1]] = True
    return out


def bins_of(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The bin of each grid: ±3 / ±2 / ±1 at 99 / 95 / 90 % after BH over all grids, 0 otherwise."""
    level = np.zeros(z.shape, dtype=int)
    for rank, conf in zip((3, 2, 1), CONFIDENCE, strict=True):
        level = np.where((level == 0) & bh_reject(p, 1 - conf), rank, level)
    return (level * np.sign(np.nan_to_num(z))).astype(int)


@dataclass(frozen=True)
class HotspotResult:
    """Gi* of one analysis, one row per level-3 grid.

    ``frame`` columns: ``grid_id``, ``count``, ``value`` (what was tested: the
    count, or cases per 100 households), ``z``, ``p`` and ``p_sim`` (`gi_star`;
    0, 1 and 1 for an island or a field without variance), ``bin``, ``trend``
    (a label of `TRENDS` or ``None``), ``repeats``.
    """

    frame: pd.DataFrame
    measure: str
    window: str
    islands: int

    def hot(self) -> pd.DataFrame:
        """The hot grids, most significant first (bin, then z)."""
        f = self.frame[self.frame["bin"] > 0]
        return f.sort_values(["bin", "z", "grid_id"], ascending=[False, False, True])


def gi_star(values: np.ndarray, gw: GridWeights, permutations: int = PERMUTATIONS,
            seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gi* of ``values`` (esda ``G_Local``, self-weight 1; a row's scale cancels in z): ``z`` the Gi* z-score, ``p`` its
    two-sided normal p-value, ``p_sim`` the pseudo p-value of ``permutations`` conditional permutations
    with a fixed seed.

    Islands, and every grid when the values do not vary, get ``z`` 0 and ``p`` 1:
    there is nothing to compare them with.
    """
    z, p = np.zeros(values.size), np.ones(values.size)
    if values.size < 3 or np.ptp(values) == 0 or gw.islands.all():
        return z, p, p.copy()
    from esda.getisord import G_Local

    # Row-standardising scales each Gi*, its mean and its spread under the null alike, so z and p are those of
    # the row-standardised weights; esda's analytical variance is right only for the binary ones ("B"), and
    # under "R" it gave a block of 22 hot grids z 2.3 where the binary weights give 6-7.
    g = G_Local(values, gw.w(), transform="B", permutations=permutations, star=None, seed=seed,
                keep_simulations=False)
    # The bins test the analytical z (two-sided normal p), as Getis and Ord define it. The permutations'
    # rank p (p_sim) is kept beside it but cannot bin: it cannot go below 1/(permutations+1), so after
    # Benjamini-Hochberg over n grids a 99 % bin would need n/10 grids at that floor; and the normal
    # approximation of the permutations (z_sim) marked grids of a uniform field hot.
    z = np.where(gw.islands, 0.0, np.nan_to_num(np.asarray(g.Zs, dtype=float)))
    p = np.where(gw.islands, 1.0, np.minimum(1.0, 2 * np.nan_to_num(np.asarray(g.p_norm, dtype=float), nan=0.5)))
    p_sim = np.where(gw.islands, 1.0, np.nan_to_num(np.asarray(g.p_sim, dtype=float), nan=1.0))
    return z, p, p_sim


def month_starts(now: datetime, months: int) -> list[datetime]:
    """The first instants (naive UTC) of the ``months`` whole Beijing months before ``now``'s, and of ``now``'s."""
    local = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    y, m = local.year, local.month
    out = []
    for back in range(months, -1, -1):
        yy, mm = divmod((y * 12 + m - 1) - back, 12)
        out.append(datetime(yy, mm + 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None))
    return out


def monthly_counts(cases: pd.DataFrame, ids: tuple[str, ...] | list[str], mask: np.ndarray, now: datetime,
                   months: int = TREND_MONTHS) -> np.ndarray:
    """Cases of ``mask`` per grid (rows, ``ids`` order) and whole Beijing month (columns, oldest first)."""
    edges = np.array(month_starts(now, months), dtype="datetime64[us]")
    times = cases["reported_at"].to_numpy().astype("datetime64[us]")[mask]
    col = np.searchsorted(edges, times, side="right") - 1
    keep = (col >= 0) & (col < months)
    pos = {g: i for i, g in enumerate(ids)}
    row = np.array([pos.get(g, -1) for g in cases["grid_id"].to_numpy()[mask]], dtype=int)
    keep &= row >= 0
    out = np.zeros((len(ids), months), dtype=int)
    np.add.at(out, (row[keep], col[keep]), 1)
    return out


def mann_kendall(x: np.ndarray) -> tuple[float, float]:
    """The Mann-Kendall test of a series: ``(z, two-sided p)`` with the tie correction of the variance."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 3:
        return 0.0, 1.0
    s = float(np.sign(x[None, :] - x[:, None])[np.triu_indices(n, 1)].sum())
    _, ties = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18
    if var <= 0:
        return 0.0, 1.0
    z = (s - np.sign(s)) / np.sqrt(var)  # continuity correction
    return float(z), float(2 * stats.norm.sf(abs(z)))


def trend_label(series: np.ndarray) -> str | None:
    """The word for a grid's monthly counts (oldest first), by the rules of ``docs/design.md §1a``.

    ``None``: no case in the months. ``new``: cases only in the last `NEW_MONTHS`
    months. ``intensifying`` / ``diminishing``: a Mann-Kendall trend up / down at
    `TREND_ALPHA`. ``persistent``: cases in at least `PERSISTENT_SHARE` of the
    months. ``sporadic``: anything else.
    """
    series = np.asarray(series)
    if not series.any():
        return None
    if series.size > NEW_MONTHS and not series[:-NEW_MONTHS].any():
        return "new"
    z, p = mann_kendall(series)
    if p < TREND_ALPHA:
        return "intensifying" if z > 0 else "diminishing"
    if (series > 0).mean() >= PERSISTENT_SHARE:
        return "persistent"
    return "sporadic"


def repeat_spots(cases: pd.DataFrame, mask: np.ndarray, radius_m: float = REPEAT_RADIUS_M,
                 days: int = REPEAT_DAYS) -> pd.DataFrame:
    """Cases of ``mask`` reported again at the same spot: within ``radius_m`` of an earlier case, and at most
    ``days`` after it (exactly ``days`` is in, a second more is out).

    Returns
    -------
    DataFrame
        One row per repeat: ``id`` (the later case), ``earlier_id``, ``grid_id``, ``distance_m``, ``days``.
    """
    sub = cases.loc[mask & cases["lon"].notna().to_numpy() & cases["lat"].notna().to_numpy(),
                    ["id", "lon", "lat", "reported_at", "grid_id"]]
    empty = pd.DataFrame({"id": [], "earlier_id": [], "grid_id": [], "distance_m": [], "days": []})
    if len(sub) < 2:
        return empty
    x, y = to_metric_xy(sub["lon"].to_numpy(), sub["lat"].to_numpy())
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius_m, output_type="ndarray")
    if pairs.size == 0:
        return empty
    t = sub["reported_at"].to_numpy().astype("datetime64[us]")
    a, b = pairs[:, 0], pairs[:, 1]
    later_first = t[a] > t[b]
    a, b = np.where(later_first, a, b), np.where(later_first, b, a)  # a: the later case
    gap = t[a] - t[b]
    keep = (gap > np.timedelta64(0, "us")) & (gap <= np.timedelta64(days, "D"))
    a, b, gap = a[keep], b[keep], gap[keep]
    out = pd.DataFrame({"id": sub["id"].to_numpy()[a], "earlier_id": sub["id"].to_numpy()[b],
                        "grid_id": sub["grid_id"].astype(object).to_numpy()[a],
                        "distance_m": np.hypot(x[a] - x[b], y[a] - y[b]),
                        "days": gap / np.timedelta64(1, "D")})
    # One row per later case: its nearest earlier one.
    return out.sort_values(["id", "distance_m"]).drop_duplicates("id").reset_index(drop=True)


def households(gridset: GridSet, ids: tuple[str, ...]) -> np.ndarray:
    """Households per grid from the grid file (NaN where it does not say)."""
    def one(g: str) -> float:
        value: Any = gridset.props(g).get("households")
        return float(value) if value not in (None, "") and float(value) > 0 else np.nan
    return np.array([one(g) for g in ids], dtype=float)


def analyse(model: HotspotModel, gridset: GridSet, cases: pd.DataFrame, base: np.ndarray, now: datetime,
            window: str = "90d", measure: str = "count", permutations: int = PERMUTATIONS) -> HotspotResult:
    """Gi* of the cases of ``base`` (the domain and type already chosen) in ``window`` up to ``now``.

    Parameters
    ----------
    base : ndarray of bool
        The cases to count, before the window (the trends look back further).
    measure : {"count", "rate"}
        Count per grid, or cases per 100 households (every grid must have households).

    Raises
    ------
    ValueError
        An unknown window or measure, or a rate where the grid file lacks households (naming the grids).
    """
    if window not in HOTSPOT_WINDOWS:
        raise ValueError(f"window={window!r} unknown; allowed: {', '.join(HOTSPOT_WINDOWS)}")
    if measure not in ("count", "rate"):
        raise ValueError(f"measure={measure!r} unknown; allowed: count, rate")
    gw = model.weights(gridset)
    mask = base & in_window(cases["reported_at"], now, HOTSPOT_WINDOWS[window])
    counts = grid_counts(cases, gw.ids, mask)
    values = counts
    if measure == "rate":
        hh = households(gridset, gw.ids)
        missing = [g for g, h in zip(gw.ids, hh, strict=True) if np.isnan(h)]
        if missing:
            raise ValueError(f"measure=rate needs households for every grid; the grid file has none for "
                             f"{len(missing)} grids ({', '.join(missing[:5])}…)")
        values = counts / hh * 100
    z, p, p_sim = gi_star(values, gw, permutations)
    series = monthly_counts(cases, gw.ids, base, now)
    repeats = repeat_spots(cases, mask)["grid_id"].value_counts().reindex(list(gw.ids), fill_value=0)
    frame = pd.DataFrame({"grid_id": list(gw.ids), "count": counts.astype(int), "value": values, "z": z, "p": p,
                          "p_sim": p_sim,
                          "bin": bins_of(z, p), "trend": [trend_label(s) for s in series],
                          "repeats": repeats.to_numpy(dtype=int)})
    return HotspotResult(frame, measure, window, int(gw.islands.sum()))


def township_hotspots(model: HotspotModel, snap: Snapshot, gridset: GridSet, now: datetime, domain: str | None = None,
                      case_type: str | None = None, window: str = "90d", measure: str = "count") -> HotspotResult:
    """`analyse` over a snapshot's cases of ``domain`` and ``case_type`` (``None``: all), kept per data version.

    The whole town is analysed whoever asks (a grid's neighbours may lie in another village); what a
    viewer is shown of it is `for_viewer`'s.
    """
    cases = snap.cases
    base = np.ones(len(cases), dtype=bool)
    if domain:
        base &= (cases["domain"] == domain).to_numpy()
    if case_type:
        base &= (cases["type"] == case_type).to_numpy()
    # The day, not the instant: the same choices within a day share one analysis (windows are days long).
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    key = (snap.version, id(gridset), day, domain, case_type, window, measure)
    return model.result(key, lambda: analyse(model, gridset, cases, base, now, window, measure))


def for_viewer(result: HotspotResult, gridset: GridSet, viewer: Viewer) -> pd.DataFrame:
    """The grids of ``result`` ``viewer`` is shown (a village operator: their village's), with ``village_id``."""
    frame = result.frame.assign(village_id=[gridset.village_of(g) for g in result.frame["grid_id"]])
    shown = [may_see_village(viewer, v) for v in frame["village_id"]]
    return frame[np.array(shown, dtype=bool)]
