"""Evacuation on paper: the printable 转移台账 (marked 内部资料) and the daily report's summary section.

Pure: roster and summaries in (`township.loop.evacroster`), HTML out, in the
daily report's print style (`layers.report`); nothing linked, so
`township.runtime.render.render_pdf` prints it on a closed network. The
ledger lists people: the route asks `township.domain.policy.may_export_roster` first.
"""
from __future__ import annotations

from layers.report import _CSS, _e, _section, _table
from layers.text import t
from township.domain.vocab import EVAC_STATUSES, HOUSEHOLD_FLAGS, label
from township.grids.model import GridSet
from township.loop.evacroster import EvacuationOut, SummaryOut

__all__ = ["INTERNAL", "summary_section", "ledger_html"]

#: The marking every page with people on it carries.
INTERNAL = t("evac_internal")


def _minutes(m: float | None) -> str:
    return "未完成" if m is None else f"{m:.0f}"


def summary_section(summaries: list[SummaryOut]) -> str:
    """The daily report's section: one row per evacuation cleared that day (counts only)."""
    if not summaries:
        return ""
    rows = [[_e(x.title), str(x.total), str(x.moved), str(x.settled), str(x.refused), str(x.unreachable),
             str(x.pending), f"{x.vulnerable}", _e(_minutes(x.minutes_to_move_vulnerable))] for x in summaries]
    head = ["预警", "名单户数", "已转移", "已安置", "拒绝转移", "无法联系", "未转移", "重点人群户",
            "重点人群转移用时(分)"]
    return _section("evacuation", f"{t('evac_summary')}(当日解除的预警)",
                    _table(head, rows, "无", {1, 2, 3, 4, 5, 6, 7, 8}))


def ledger_html(title: str, evac: EvacuationOut, summary: SummaryOut | None, gridset: GridSet,
                village_id: str | None) -> str:
    """The 转移台账 of one warning (of one village when ``village_id``), marked 内部资料 on every page."""
    def village(v: str | None) -> str:
        return gridset.props(v)["name"] if v and v in gridset else (v or "")

    rows = [[str(n), _e(village(h.village_id)), _e(h.she), _e(h.head), _e(h.phone or ""), str(h.people),
             _e("、".join(label(HOUSEHOLD_FLAGS, f) for f in h.flags)), _e(h.helper.name if h.helper else ""),
             _e(h.shelter or ""), f"{(h.distance_m or 0) / 1000:.1f}", _e(label(EVAC_STATUSES, h.status)), _e(h.note)]
            for n, h in enumerate(evac.households, 1)]
    head = ["序号", "村/社区", "社", "户主", "电话", "人数", "重点人群", "包保人", "安置点", "距离(km)", "状态", "备注"]
    counts = " · ".join(f"{label(EVAC_STATUSES, s)} {n}" for s, n in evac.by_status.items() if n)
    sections = [_section("ledger-counts", f"已转移 {evac.moved} / {evac.total} 户", f"<p>{_e(counts)}</p>")]
    if summary is not None:
        sections.append(summary_section([summary]))
    sections.append(_section("ledger", "转移台账", _table(head, rows, "无", {0, 5, 9})))
    where = village(village_id) or "全镇"
    mark = f'<div class="internal">{_e(INTERNAL)}</div>'
    css = _CSS + ".internal { color: #b71c1c; font-weight: 700; border: 2px solid #b71c1c; display: inline-block;" \
                 " padding: 0 3mm; margin: 1mm 0; } @page { @top-right { content: '内部资料'; color: #b71c1c; } }"
    body = (f'<header class="head">{mark}<h1>{_e(title)} · 转移台账 · {_e(where)}</h1></header>'
            + "\n".join(sections)
            + f'<footer class="foot">{mark} 个人敏感信息,仅限转移安置工作使用,不得外传。</footer>')
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>转移台账 {_e(title)}(内部资料)</title><style>{css}</style></head><body>{body}</body></html>")
