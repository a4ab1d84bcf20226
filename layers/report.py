"""The daily report as one printable HTML page: A4 ``@page``, inline CSS, inline SVG bars, nothing linked.

Pure: a `township.read.report.DailyReport` in, an HTML string out. The page
names no outside resource (no font, script, image or style URL), so it prints
the same on a closed network and `township.runtime.render.render_pdf` turns
it into a PDF. Personal data arrives already masked for the reader's role.
"""
from __future__ import annotations

import html as _html
from datetime import UTC, datetime

import pandas as pd

from layers.text import t
from township.domain.isotime import LOCAL_TZ
from township.domain.vocab import (
    CASE_STATUSES,
    CASE_TYPES,
    DOMAINS,
    TIERS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    WARNING_TYPES,
    label,
)
from township.grids.model import GridSet
from township.read.report import DailyReport

__all__ = ["daily_report_html", "bar_svg"]

NOTE = t("illustrative")
#: Bar colours: done, open (not overdue), overdue.
DONE_COLOR, OPEN_COLOR, OVERDUE_COLOR = "#B0BEC5", "#FB8C00", "#E53935"

_CSS = """
@page { size: A4 portrait; margin: 12mm 11mm 14mm; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 188mm; font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC",
       "Microsoft YaHei", sans-serif; color: #1f2a30; font-size: 10pt; line-height: 1.4;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media screen { body { padding: 12px; } }
h1 { font-size: 17pt; margin: 0; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; padding-bottom: 1mm; border-bottom: 2px solid #b71c1c; break-after: avoid; }
.sub { color: #455a64; font-size: 9pt; }
.note { background: #fff3e0; color: #bf360c; padding: 0 4px; border-radius: 2px; }
.head { border-bottom: 3px solid #b71c1c; padding-bottom: 2mm; }
.kpis { display: flex; flex-wrap: wrap; gap: 3mm; margin-top: 3mm; }
.kpi { border: 1px solid #cfd8dc; border-radius: 2mm; padding: 2mm 4mm; min-width: 27mm; }
.kpi b { display: block; font-size: 16pt; }
.kpi.bad b { color: #c62828; }
.kpi .lbl { color: #546e7a; font-size: 8.5pt; }
.chip { display: inline-block; min-width: 9mm; text-align: center; border-radius: 1mm; padding: 0 1.5mm; color: #fff;
        font-weight: 700; margin-right: 1mm; }
.chip.y { color: #212121; }
table { width: 100%; border-collapse: collapse; font-size: 9pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th { text-align: left; background: #eceff1; font-weight: 600; white-space: nowrap; }
th, td { padding: 1mm 1.5mm; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.late { color: #c62828; font-weight: 700; white-space: nowrap; }
.empty { color: #78909c; }
.legend { font-size: 8.5pt; color: #546e7a; }
.legend i { display: inline-block; width: 3mm; height: 3mm; margin: 0 1mm 0 3mm; vertical-align: -0.3mm; }
.foot { margin-top: 6mm; border-top: 1px solid #cfd8dc; padding-top: 2mm; font-size: 8pt; color: #607d8b; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 5mm; }
.two td:first-child { white-space: nowrap; }
.back { float: right; font-size: 10pt; }
@media print { .back { display: none; } }
"""


def _e(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return _html.escape(str(value), quote=True)


def _local(value: object, fmt: str = "%m-%d %H:%M") -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime(fmt)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _late(now: datetime, deadline: object) -> str:
    hours = (pd.Timestamp(now) - pd.Timestamp(deadline)) / pd.Timedelta(hours=1)
    return f"{hours / 24:.0f} 天" if hours >= 48 else f"{max(hours, 0):.0f} 小时"


def _chip(level: int, text: str) -> str:
    colour = WARNING_LEVELS[level]["color"]
    return f'<span class="chip{" y" if level == 3 else ""}" style="background:{colour}">{_e(text)}</span>'


def bar_svg(done: int, open_: int, overdue: int, scale: int, width: int = 90, height: int = 11) -> str:
    """A stacked bar (done · open · of which overdue) as inline SVG, ``scale`` cases across ``width`` px.

    Inline SVG needs no ``xmlns`` inside HTML, so the page names no URL at all.
    """
    scale = max(scale, 1)
    parts, x = [], 0.0
    for value, colour in ((done, DONE_COLOR), (open_ - overdue, OPEN_COLOR), (overdue, OVERDUE_COLOR)):
        w = width * max(value, 0) / scale
        if w > 0:
            parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{colour}"/>')
        x += w
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="已办结 {done} 在办 {open_} 超期 {overdue}">{"".join(parts)}</svg>')


def _table(headers: list[str], rows: list[list[str]], empty: str, numeric: set[int] = frozenset()) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(sid: str, title: str, content: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{content}</section>'


def _count_rows(counts: pd.DataFrame, names: dict[str, str]) -> list[list[str]]:
    scale = int(counts["total"].max()) if len(counts) else 1
    return [[_e(names.get(k, k)), str(int(r.total)), str(int(r.open)), str(int(r.overdue)), str(int(r.done)),
             bar_svg(int(r.done), int(r.open), int(r.overdue), scale)]
            for k, r in counts.iterrows()]


def _filter_text(report: DailyReport, gridset: GridSet) -> str:
    s = report.state
    parts = [
        "村/社区:" + ("、".join(gridset.props(v)["name"] for v in s.village) if s.village else "全镇"),
        "领域:" + ("、".join(label(DOMAINS, d) for d in s.domain) if s.domain else "全部"),
        "状态:" + ("、".join(label(CASE_STATUSES, d) for d in s.status) if s.status else "全部"),
        "类型:" + ("、".join(label(CASE_TYPES, d) for d in s.type) if s.type else "全部"),
        "预警:" + ("、".join(WARNING_LEVELS[lv]["zh"] for lv in s.wlevel) if s.wlevel else "全部等级"),
        f"{t('window')}:{t(s.window if s.window != 'all' else 'all_time')}({t('window_note')})",
    ]
    return " · ".join(_e(p) for p in parts)


def daily_report_html(report: DailyReport, gridset: GridSet, back_href: str | None = None, extra: str = "") -> str:
    """The daily report page.

    Parameters
    ----------
    report : DailyReport
        The gathered report (`township.read.report.daily_report`).
    gridset : GridSet
        Names of villages and grids.
    back_href : str, optional
        A same-site link back to the dashboard under the same filter (hidden in print).
    extra : str
        More sections' HTML, after the warnings (the evacuations' summary, `layers.evacledger.summary_section`).
    """
    h = report.headline
    now = report.generated_at
    day = report.day.isoformat()
    stamp = _local(now, "%Y-%m-%d %H:%M")
    kpis = [("在办事件", str(h.open), ""), ("超期", str(h.overdue), "bad" if h.overdue else ""),
            ("办结率", _pct(h.done_rate), ""), ("按期办结率", _pct(h.ontime_rate), ""),
            ("村级化解率", _pct(h.village_rate), ""), ("事件总数", str(h.total), "")]
    if report.residents is not None:
        kpis[5:5] = [("返工率", _pct(report.residents.rework_rate), ""),
                     ("满意率", _pct(report.residents.satisfaction_rate), "")]
    warn_chips = "".join(_chip(lv, f'{e["zh"]} {h.warnings.get(lv, 0)}') for lv, e in WARNING_LEVELS.items())
    kpi_html = "".join(f'<div class="kpi {cls}" data-kpi="{_e(k)}"><b>{_e(v)}</b><span class="lbl">{_e(k)}</span></div>'
                       for k, v, cls in kpis)
    kpi_html += (f'<div class="kpi" data-kpi="生效预警"><b style="font-size:11pt;line-height:1.9">{warn_chips}</b>'
                 f'<span class="lbl">生效预警(按颜色)</span></div>')

    def place(r) -> str:
        # Grid names already start with their village's name (创业社区第7网格).
        return _e(r.grid_name or r.village_name)

    def village(w) -> str:
        v = w.village_id
        return _e(gridset.props(v)["name"]) if isinstance(v, str) and v in gridset else ""

    late_tag = ' <span class="late">超期</span>'
    new_rows = [[str(r.id), _e(_local(r.reported_at, "%H:%M")), _e(r.title), _e(r.type_label), _e(r.domain_label),
                 place(r), _e(r.status_label) + (late_tag if r.overdue else "")]
                for r in report.new_cases.itertuples()]
    over_rows = [[str(r.id), _e(r.title), _e(r.type_label), place(r), _e(label(TIERS, r.tier)),
                  _e(_local(r.deadline_at, "%Y-%m-%d %H:%M")),
                  f'<span class="late">{_e(_late(now, r.deadline_at))}</span>', _e(r.handler) or "—"]
                 for r in report.overdue.itertuples()]
    warn_rows = [[_chip(int(w.level), WARNING_LEVELS[int(w.level)]["zh"]), _e(label(WARNING_TYPES, w.type)),
                  _e(w.title), village(w), str(int(w.affected)), _e(_local(w.issued_at)),
                  _e(label(WARNING_STATUSES, w.status))]
                 for w in report.warnings.itertuples()]
    domain_names = {k: v["zh"] for k, v in DOMAINS.items()}
    village_names = {v: gridset.props(v)["name"] for v in report.by_village.index}
    count_head = ["", "事件", "在办", "超期", "已办结", ""]
    legend = (f'<p class="legend"><i style="background:{DONE_COLOR}"></i>已办结<i style="background:{OPEN_COLOR}">'
              f'</i>在办<i style="background:{OVERDUE_COLOR}"></i>超期</p>')
    back = f'<a class="back" href="{_e(back_href)}">返回指挥地图</a>' if back_href else ""
    sections = [
        _section("headline", "主要指标(截至生成时间)", f'<div class="kpis">{kpi_html}</div>'),
        _section("today", f"{day} 当日:新增 {len(report.new_cases)} 件 · 办结 {report.resolved} 件",
                 _table(["编号", "上报", "事项", "事件类型", "领域", "网格", "状态"], new_rows, "当日无新增事件", {0})),
        '<div class="two">'
        + _section("by-domain", "各领域事件",
                   _table(count_head, _count_rows(report.by_domain, domain_names), "无", {1, 2, 3, 4}))
        + _section("by-village", "各村/社区事件",
                   _table(count_head, _count_rows(report.by_village, village_names), "无", {1, 2, 3, 4}))
        + "</div>" + legend,
        _section("overdue", f"超期事件({len(report.overdue)},超期最久在前)",
                 _table(["编号", "事项", "事件类型", "网格", "化解层级", "办理时限", "已超期", "处置人"], over_rows,
                        "无超期事件", {0})),
        _section("warnings", f"生效预警({len(report.warnings)})",
                 _table(["等级", "类型", "标题", "村/社区", "波及网格", "发布", "状态"], warn_rows, "无生效预警", {4})),
        extra,
    ]
    body = (f'<header class="head">{back}<h1>大路镇智慧乡镇 · 日报 {_e(day)}</h1>'
            f'<div class="sub">{_filter_text(report, gridset)}</div>'
            f'<div class="sub">生成于 <time id="generated">{_e(stamp)}</time>(北京时间) · '
            f'<span class="note">{_e(NOTE)}</span></div></header>'
            + "\n".join(sections)
            + f'<footer class="foot">{_e(NOTE)}。在办、超期与各项比率按生成时间的状态统计,当日新增与办结按北京时间 '
              f'{_e(day)} 统计;个人信息按查看角色遮蔽。本页不加载任何网络资源。</footer>')
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>大路镇日报 {_e(day)}</title><style>{_CSS}</style></head><body>{body}</body></html>")
