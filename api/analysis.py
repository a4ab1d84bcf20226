"""``GET /api/v1/hotspots``: Getis-Ord Gi* per grid, with its trend and repeat spots (`township.read.hotspots`).

Aggregates only (counts per grid), so every role that may read cases may read
them, the wall too; a village token is shown its own village's grids, of an
analysis over the whole town (a grid's neighbours may lie in another village).
"""
from __future__ import annotations

import numpy as np
from flask import Blueprint, request

from township.domain.vocab import CASE_TYPES, DOMAINS
from township.formats.ingest import FieldError
from township.read.hotspots import HOTSPOT_WINDOWS, PERMUTATIONS, for_viewer, township_hotspots
from township.runtime.bootstrap import AppContext
from township.store.models import utcnow

from .http import ApiError, respond, viewer

#: The query parameters and what each allows (the default first).
HOTSPOT_ARGS: dict[str, tuple[str, ...]] = {
    "domain": tuple(DOMAINS), "type": tuple(CASE_TYPES), "window": ("90d", *(w for w in HOTSPOT_WINDOWS if w != "90d")),
    "measure": ("count", "rate"),
}


def _choices() -> dict[str, str | None]:
    """The query string checked: an unknown parameter or value is a 400 naming it and what is allowed."""
    errors = [FieldError(None, k, f"unknown parameter; allowed: {', '.join(HOTSPOT_ARGS)}")
              for k in request.args if k not in HOTSPOT_ARGS]
    out: dict[str, str | None] = {}
    for name, allowed in HOTSPOT_ARGS.items():
        value = request.args.get(name) or None
        if value is not None and value not in allowed:
            errors.append(FieldError(None, name, f"{value!r} unknown; allowed: {', '.join(allowed)}"))
        out[name] = value
    if errors:
        raise ApiError(400, errors)
    return out


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add ``/api/v1/hotspots`` to ``bp``."""
    township = ctx.township

    @bp.get("/api/v1/hotspots")
    def hotspots_get():
        who = viewer(ctx)
        c = _choices()
        snap = township.snapshot()
        window, measure = c["window"] or "90d", c["measure"] or "count"
        try:
            result = township_hotspots(ctx.hotspots, snap, township.gridset, utcnow(), c["domain"], c["type"],
                                       window, measure)
        except ValueError as exc:  # a rate without households in the grid file
            raise ApiError(400, [FieldError(None, "measure", str(exc))]) from None
        frame = for_viewer(result, township.gridset, who)
        items = [{"grid_id": r.grid_id, "village_id": r.village_id, "count": int(r.count),
                  "value": float(r.value), "z": float(np.round(r.z, 4)), "p": float(r.p),
                  "p_sim": float(np.round(r.p_sim, 4)),
                  "bin": int(r.bin), "trend": r.trend, "repeats": int(r.repeats)}
                 for r in frame.itertuples(index=False)]
        return respond({"version": snap.version, "window": window, "measure": measure, "domain": c["domain"],
                        "type": c["type"], "permutations": PERMUTATIONS, "islands": result.islands,
                        "items": items})
