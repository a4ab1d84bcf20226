"""Evacuation (转移安置) over HTTP: the roster of a warning, starting it, and a household's steps.

- ``GET /api/v1/warnings/{id}/evacuation``: counts by status and village for
  every reader; the households with their people only for the roles the
  policy allows (command, the household's village, its helper); each such read
  is logged.
- ``POST /api/v1/warnings/{id}/evacuation``: the command centre starts it (201).
- ``POST /api/v1/evacuation/households/{id}/{move}``: notify, move, settle,
  refuse, unreachable, with ``expected_version`` (409 when the row changed).

Thin: `township.loop.evacuation` and `township.loop.evacroster` do the work.
"""
from __future__ import annotations

from flask import Blueprint

from township.loop.evacroster import EvacMoveIn, EvacStartIn, evacuation_view, moved_out
from township.loop.evacuation import EVAC_MOVES, move_household, start_evacuation
from township.loop.warnings import visible_warning
from township.loop.workflow import MoveRefused
from township.read.api import Viewer
from township.runtime.bootstrap import AppContext
from township.store.models import Warning

from .http import MAX_ID, ApiError, acting_viewer, actor_of, refused, respond, viewer
from .v1 import _one_body


def register(bp: Blueprint, ctx: AppContext) -> None:
    """Add the evacuation routes to ``bp``."""
    township = ctx.township
    engine, gridset = township.engine, township.gridset

    def warning_in_scope(who: Viewer, warning_id: int) -> Warning:
        try:
            if warning_id > MAX_ID:
                raise MoveRefused(f"warning {warning_id} does not exist", "not_found")
            return visible_warning(engine, gridset, warning_id, actor_of(who))
        except MoveRefused as exc:
            raise refused(exc) from None

    @bp.get("/api/v1/warnings/<int:warning_id>/evacuation")
    def evacuation_get(warning_id: int):
        who = viewer(ctx)
        row = warning_in_scope(who, warning_id)
        return respond(evacuation_view(engine, gridset, row, who, "api", actor_of(who).name).model_dump())

    @bp.post("/api/v1/warnings/<int:warning_id>/evacuation")
    def evacuation_start(warning_id: int):
        who = acting_viewer(ctx)
        warning_in_scope(who, warning_id)
        body = _one_body(EvacStartIn)
        try:
            start_evacuation(engine, gridset, warning_id, actor_of(who), note=body.note)
        except MoveRefused as exc:
            raise refused(exc, "(evacuation)") from None
        row = warning_in_scope(who, warning_id)
        return respond(evacuation_view(engine, gridset, row, who, "api", actor_of(who).name).model_dump(), 201)

    @bp.post(f"/api/v1/evacuation/households/<int:entry_id>/<any({','.join(EVAC_MOVES)}):move>")
    def evacuation_move(entry_id: int, move: str):
        who = acting_viewer(ctx)
        if entry_id > MAX_ID:
            raise ApiError(404, [f"evacuation household {entry_id} does not exist"])
        body = _one_body(EvacMoveIn)
        try:
            done = move_household(engine, entry_id, move, actor_of(who), expected_version=body.expected_version,
                                  note=body.note)
        except MoveRefused as exc:
            raise refused(exc, "expected_version" if exc.code == "stale" else move) from None
        return respond(moved_out(engine, done).model_dump())
