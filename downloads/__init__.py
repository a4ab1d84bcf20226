"""Downloads: field maps, filtered exports and the daily report, served as files by a Flask blueprint.

Routes (all GET):

- ``/grid/<grid_id>/fieldmap.html|.pdf|.png`` and
  ``/warnings/<int:wid>/fieldmap.html|.pdf|.png``: the offline field map
  (`layers.fieldmap`); PDF and PNG are its A4 print layout rendered by
  headless Chromium (`township.runtime.render`).
- ``/export/cases.csv``, ``/export/cases.xlsx``, ``/export/features.geojson``:
  the cases (and live warnings) under the dashboard's filter query string
  (`township.formats.exports`).
- ``/report/daily?<filter>&date=YYYY-MM-DD`` (printable HTML) and
  ``/report/daily.pdf?...`` (`township.read.report`, `layers.report`).
- ``/evaluation/monthly.xlsx|.pdf?month=YYYY-MM&unit=village|grid|handler``:
  the monthly evaluation (`township.read.evaluation`, `layers.hotspots`).

Views are thin: parse the request, call the core, answer. An unknown id is a
404, a bad parameter a 400 naming it, a missing or busy Chromium a 503; the
message is plain text, readable on a phone. The viewer is
`auth.current_viewer` (the sign-in gate stands in front of these routes):
personal data is masked for its role, and a village operator gets their own
village only — the export filter is clamped (`township.loop.casefile.clamp_state`),
another village's grid is a 403, a warning beyond their reach a 404 as a missing
one (as the warning card and the API answer), and a field map reaching other
villages shows of them what the warning card does (`township.read.fieldmap.for_viewer`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, date
from urllib.parse import parse_qsl, quote, urlencode

import pandas as pd
from flask import Blueprint, Response, request

from auth import current_viewer
from layers.evacledger import ledger_html, summary_section
from layers.fieldmap import field_map, print_html
from layers.hotspots import evaluation_html, evaluation_table
from layers.report import daily_report_html
from township.domain.filters import REPLAY_PARAMS, FilterState, from_query
from township.domain.isotime import LOCAL_TZ
from township.domain.policy import may_export_roster, may_see_reach
from township.formats import exports
from township.loop.casefile import clamp_state
from township.loop.evacroster import cleared_summaries, evacuation_summary, evacuation_view
from township.loop.warnings import visible_warning
from township.loop.workflow import MoveRefused
from township.read.evaluation import EvaluationRefused, evaluation_for, parse_month
from township.read.fieldmap import FieldMapData, for_viewer, grid_fieldmap_data, warning_fieldmap_data
from township.read.playback import moment_problem
from township.read.report import daily_report, day_bounds, parse_day
from township.read.resident import feedback_frame
from township.read.snapshot import Snapshot
from township.read.views import View, make_view
from township.runtime.bootstrap import AppContext
from township.runtime.render import ChromiumError, render_pdf, render_png
from township.store.models import utcnow

__all__ = ["make_blueprint", "RenderCache", "CHROMIUM_SLOTS"]

#: Chromium renders at once: each is a whole browser (~150 MB, a CPU core for a second or two).
CHROMIUM_SLOTS = 2
#: How long a request waits for a free Chromium before it is told to retry.
CHROMIUM_WAIT_S = 45.0
#: A cached render is reused at most this long even if no data changed:
#: cases turn overdue with the clock, not only with writes.
RENDER_TTL_S = 120.0

TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
TYPES = {
    "html": HTML,
    "pdf": "application/pdf",
    "png": "image/png",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}


class RenderCache:
    """A small in-memory LRU of rendered files, each kept at most ``ttl`` seconds.

    Keys name everything a render depends on (kind, id, role and village of
    the viewer, data version, format), so a write, another role or another
    village's operator never gets a stale or unmasked file.
    """

    def __init__(self, size: int = 32, ttl: float = RENDER_TTL_S) -> None:
        self.size, self.ttl = size, ttl
        self._items: OrderedDict[Hashable, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        """The cached bytes of ``key``, or ``None`` if absent or expired."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, value: bytes) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class _Refused(Exception):
    """A request the blueprint answers with a plain-text error."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _not_found(kind: str, detail: str) -> _Refused:
    """The 404 of a grid or warning that does not exist (or, to this viewer, as if it did not)."""
    return _Refused(404, f"没有这个{'网格' if kind == 'grid' else '预警'} · not found: {detail}")


def _error(exc: _Refused) -> Response:
    return Response(exc.message + "\n", status=exc.status, content_type=TEXT, headers=exc.headers)


def _file(body: bytes, fmt: str, ascii_name: str, name: str) -> Response:
    """A response carrying a file; ``filename*`` (RFC 6266/5987) gives phones the Chinese name."""
    resp = Response(body, content_type=TYPES[fmt])
    resp.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    # Exports carry personal data for some roles: no shared or disk caches.
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _stamp(fmt: str = "%Y%m%d-%H%M") -> str:
    return utcnow().replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime(fmt)


def make_blueprint(ctx: AppContext) -> Blueprint:
    """The downloads blueprint over ``ctx``; register it on the Dash app's Flask server."""
    bp = Blueprint("downloads", __name__)
    tw = ctx.township
    gs = tw.gridset
    renders = RenderCache()
    chromium = threading.BoundedSemaphore(CHROMIUM_SLOTS)
    contacts: dict[int, pd.DataFrame] = {}  # data version → reporters (only the latest is kept)

    bp.register_error_handler(_Refused, _error)

    def role() -> str:
        return current_viewer(ctx).role

    def check_village(grid_ids: list[str], what: str) -> None:
        """A village operator may take only what touches their own village."""
        viewer = current_viewer(ctx)
        if viewer.role == "village" and viewer.village_id not in {gs.village_of(g) for g in grid_ids if g in gs}:
            raise _Refused(403, f"只能查看本村/社区的{what} · only your own village ({viewer.village_id})")

    def case_contacts(version: int) -> pd.DataFrame:
        if version not in contacts:
            frame = exports.case_contacts(tw.engine)
            contacts.clear()
            contacts[version] = frame
        return contacts[version]

    def rendered(key: tuple, build: Callable[[], bytes]) -> bytes:
        body = renders.get(key)
        if body is None:
            body = build()
            renders.put(key, body)
        return body

    def in_chromium(render: Callable[[str], bytes], page: str) -> bytes:
        if not chromium.acquire(timeout=CHROMIUM_WAIT_S):
            raise _Refused(503, "导出繁忙,请稍后重试 · Renderer busy, retry shortly", {"Retry-After": "10"})
        try:
            return render(page)
        except ChromiumError as exc:
            raise _Refused(503, f"PDF/PNG 暂不可用 · PDF/PNG unavailable: {exc}") from None
        finally:
            chromium.release()

    def filter_state(drop: tuple[str, ...] = ()) -> FilterState:
        """The dashboard's filter from this request's query string; unknown values are a 400 naming them."""
        pairs = [(k, v) for k, v in parse_qsl(request.query_string.decode("utf-8", "replace"),
                                              keep_blank_values=True) if k not in drop]
        state, notices = from_query(urlencode(pairs), set(gs.ids(level=2)), set(gs.ids(level=3)))
        if notices:
            # An export that silently widened to the whole town would mislead: refuse instead.
            raise _Refused(400, "无法识别的筛选参数 · unknown filter values: " + ", ".join(notices))
        return clamp_state(state, current_viewer(ctx), gs)

    # -- field maps ---------------------------------------------------------

    def field_map_file(kind: str, ident: str | int, fmt: str, gather: Callable[[Snapshot], FieldMapData],
                       ascii_name: str, name: str) -> Response:
        snap = tw.snapshot()
        viewer = current_viewer(ctx)
        who = viewer.role

        def build() -> bytes:
            try:
                # As the warning card shows it: another village's cases, resources and people are the viewer's
                # only as the policy says (`for_viewer`).
                data = for_viewer(gather(snap), gs, viewer)
            except KeyError as exc:
                raise _not_found(kind, exc.args[0]) from None
            except ValueError as exc:
                raise _Refused(400, f"不能导出现场图 · {exc}") from None
            if fmt == "html":
                return field_map(gs, data, who, tile_url=ctx.settings.tile_url,
                                 attribution=ctx.settings.tile_attribution).encode("utf-8")
            # The print path runs in a Chromium that can reach no host: no tile layer.
            return in_chromium(render_pdf if fmt == "pdf" else render_png, print_html(gs, data, who))

        body = rendered((kind, ident, who, viewer.village_id, snap.version, fmt), build)
        return _file(body, fmt, f"{ascii_name}.{fmt}", f"{name}.{fmt}")

    @bp.get("/grid/<grid_id>/fieldmap.<any(html, pdf, png):fmt>")
    def grid_field_map(grid_id: str, fmt: str) -> Response:
        if grid_id in gs:
            check_village([grid_id], "网格")
        name = f"{gs.props(grid_id)['name']}现场图" if grid_id in gs else grid_id
        return field_map_file("grid", grid_id, fmt, lambda snap: grid_fieldmap_data(snap, gs, grid_id),
                              f"fieldmap-{grid_id}", name)

    @bp.get("/warnings/<int:wid>/fieldmap.<any(html, pdf, png):fmt>")
    def warning_field_map(wid: int, fmt: str) -> Response:
        snap = tw.snapshot()
        row = snap.warnings[(snap.warnings["id"] == wid).to_numpy()]
        reach = {gs.village_of(g) for g in [*snap.warning_grids.get(wid, []), *row["grid_id"].dropna()] if g in gs}
        if not row.empty and not may_see_reach(current_viewer(ctx), reach):
            # Beyond a village operator's reach: the answer to a missing warning, as the card and the API give.
            raise _not_found("warning", f"unknown warning {wid!r}")
        return field_map_file("warning", wid, fmt, lambda snap: warning_fieldmap_data(snap, gs, wid),
                              f"fieldmap-warning-{wid}", f"预警{wid}现场图")

    # -- exports of the filtered data -----------------------------------------

    def export_view(state: FilterState) -> tuple[View, int]:
        """The view an export of ``state`` holds, and the current data version (its contacts' key).

        A replayed moment (``t``, the desk's link while it replays) exports the cases as they were
        then, as the desk shows them (`township.read.playback`); the contacts are the stored ones.
        """
        live = tw.snapshot()
        problem = moment_problem(state.t, tw.history().span(), utcnow()) if state.t is not None else None
        if problem:  # as the API's as_of: a file of nothing would mislead
            raise _Refused(400, f"无法回放 · t: {problem}")
        snap = live if state.t is None else tw.history().snapshot_at(live, state.t, window_hours=state.window_hours)
        return make_view(snap, gs, state), live.version

    @bp.get("/export/cases.<any(csv, xlsx):fmt>")
    def export_cases(fmt: str) -> Response:
        view, version = export_view(filter_state())
        table = exports.case_table(view, gs, role(), case_contacts(version))
        body = exports.to_csv_bytes(table) if fmt == "csv" else exports.to_xlsx_bytes(table)
        stamp = _stamp()
        return _file(body, fmt, f"dalu-cases-{stamp}.{fmt}", f"大路镇事件-{stamp}.{fmt}")

    @bp.get("/export/features.geojson")
    def export_features() -> Response:
        view, version = export_view(filter_state())
        fc = exports.features_geojson(view, gs, role(), case_contacts(version))
        stamp = _stamp()
        return _file(exports.geojson_bytes(fc), "geojson", f"dalu-features-{stamp}.geojson",
                     f"大路镇事件预警-{stamp}.geojson")

    # -- the daily report -----------------------------------------------------

    def report_args() -> tuple[FilterState, date]:
        # the report is of its day (``date``): a replayed moment is not asked of it (its link leaves ``t`` out)
        state = filter_state(drop=("date", *REPLAY_PARAMS))
        try:
            return state, parse_day(request.args.get("date"))
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None

    def report_page(snap: Snapshot, state: FilterState, day: date) -> str:
        report = daily_report(snap, gs, state, day, role(), feedback=feedback_frame(tw.engine))
        return daily_report_html(report, gs, back_href="/" + state.to_query(),
                                 extra=summary_section(cleared_summaries(tw.engine, *day_bounds(day))))

    @bp.get("/report/daily")
    def daily() -> Response:
        state, day = report_args()
        return Response(report_page(tw.snapshot(), state, day), content_type=HTML,
                        headers={"Cache-Control": "no-store"})

    @bp.get("/report/daily.pdf")
    def daily_pdf() -> Response:
        state, day = report_args()
        snap = tw.snapshot()
        body = rendered(("daily", state.to_query(), day, role(), snap.version, "pdf"),
                        lambda: in_chromium(render_pdf, report_page(snap, state, day)))
        return _file(body, "pdf", f"dalu-daily-{day}.pdf", f"大路镇日报-{day}.pdf")

    # -- the monthly evaluation (综合评价) ------------------------------------------

    def evaluation(fmt: str) -> Response:
        viewer = current_viewer(ctx)
        lang = "en" if request.args.get("lang") == "en" else "zh"
        snap = tw.snapshot()
        try:
            year, month = parse_month(request.args.get("month"), utcnow())
            ev = evaluation_for(snap.cases, viewer, request.args.get("unit") or "village", year, month,
                                feedback_frame(tw.engine))
        except ValueError as exc:
            raise _Refused(400, f"无法生成月度评价 · {exc}") from None
        except EvaluationRefused as exc:
            raise _Refused(403, f"无权查看 · {exc}") from None
        name = f"{ev.unit}-{ev.label}"
        if fmt == "xlsx":
            body = exports.to_xlsx_bytes(evaluation_table(ev, gs, lang), sheet=ev.label)
        else:
            body = rendered(("evaluation", name, lang, viewer.role, viewer.village_id, snap.version, fmt),
                            lambda: in_chromium(render_pdf, evaluation_html(ev, gs, lang)))
        return _file(body, fmt, f"dalu-evaluation-{name}.{fmt}", f"大路镇综合评价-{name}.{fmt}")

    @bp.get("/evaluation/monthly.<any(xlsx, pdf):fmt>")
    def monthly_evaluation(fmt: str) -> Response:
        return evaluation(fmt)

    # -- the printable 转移台账 (内部资料) ---------------------------------------

    def ledger_page(wid: int) -> str:
        viewer = current_viewer(ctx)
        try:
            row = visible_warning(tw.engine, gs, wid, viewer)
        except MoveRefused:
            raise _not_found("warning", f"unknown warning {wid!r}") from None
        village = viewer.village_id if viewer.role == "village" else (request.args.get("village") or None)
        if village is not None and village not in gs.ids(level=2):
            raise _Refused(400, f"village={village!r} unknown; allowed: {', '.join(gs.ids(level=2))}")
        if not may_export_roster(viewer, village):
            raise _Refused(403, "转移台账仅限镇指挥中心或本村/社区导出 · only command or the village may export "
                                "a roster")
        evac = evacuation_view(tw.engine, gs, row, viewer, "export", viewer.name, village_id=village)
        if not evac.started:
            raise _not_found("evacuation", f"warning {wid} has no evacuation")
        return ledger_html(row.title, evac, evacuation_summary(tw.engine, row), gs, village)

    @bp.get("/warnings/<int:wid>/evacuation.<any(html, pdf):fmt>")
    def evacuation_ledger(wid: int, fmt: str) -> Response:
        page = ledger_page(wid)
        if fmt == "html":
            return Response(page, content_type=HTML, headers={"Cache-Control": "no-store"})
        return _file(in_chromium(render_pdf, page), "pdf", f"evacuation-{wid}.pdf", f"转移台账-{wid}.pdf")

    return bp
