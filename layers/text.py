"""Screen text in Chinese and English. Codes stay English; words come from here or township.domain.vocab.

It lives under ``layers/`` because the builders there (maps, charts, the daily
report) print words too, and ``ui/`` builds on ``layers/``: with the table here
the screen packages depend one way, ``callbacks`` → ``ui`` → ``layers`` → this
module, and nothing here imports back. Labels of vocabulary codes (statuses,
types, domains…) are not repeated here: they are `township.domain.vocab.label`.
"""
from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "大路镇智慧乡镇 · 一点指挥", "en": "Dalu Town command map"},
    "illustrative": {"zh": "示意数据,非官方界线", "en": "Illustrative data, not official boundaries"},
    "village": {"zh": "村/社区", "en": "Village"},
    "level": {"zh": "网格层级", "en": "Grid level"},
    "domain": {"zh": "领域", "en": "Domain"},
    "status": {"zh": "事件状态", "en": "Case status"},
    "type": {"zh": "事件类型", "en": "Case type"},
    "wlevel": {"zh": "预警等级", "en": "Warning level"},
    "window": {"zh": "时间范围", "en": "Time window"},
    "measure": {"zh": "着色指标", "en": "Colour by"},
    "layers": {"zh": "图层", "en": "Layers"},
    "all": {"zh": "全部", "en": "All"},
    "reset": {"zh": "返回全镇", "en": "Back to town"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "notice": {"zh": "已忽略无法识别的参数:", "en": "Ignored unknown parameters: "},
    "window_note": {"zh": "未办结事件始终计入", "en": "open cases always included"},
    "7d": {"zh": "近7天", "en": "7 days"},
    "30d": {"zh": "近30天", "en": "30 days"},
    "90d": {"zh": "近90天", "en": "90 days"},
    "365d": {"zh": "近一年", "en": "1 year"},
    "all_time": {"zh": "全部", "en": "All time"},
    "open": {"zh": "在办事件", "en": "Open cases"},
    "overdue": {"zh": "超期", "en": "Overdue"},
    "points_capped": {"zh": "地图显示最紧急的 {shown} 件(共 {total} 件),选村或缩短时间范围可看全部",
                      "en": "Map shows the {shown} most urgent of {total} cases; "
                            "pick a village or a shorter window to see all"},
    "density": {"zh": "在办密度(件/km²)", "en": "Open per km²"},
    "done_rate": {"zh": "办结率", "en": "Done rate"},
    "ontime_rate": {"zh": "按期办结率", "en": "On-time rate"},
    "village_rate": {"zh": "村级化解率", "en": "Solved in village"},
    "warnings": {"zh": "生效预警", "en": "Live warnings"},
    "cases": {"zh": "事件", "en": "Cases"},
    "resources": {"zh": "力量", "en": "Resources"},
    "total": {"zh": "事件总数", "en": "Cases"},
    "by_domain": {"zh": "各领域事件", "en": "Cases by domain"},
    "by_village": {"zh": "各村/社区事件", "en": "Cases by village"},
    "done": {"zh": "已办结", "en": "Done"},
    "case_table": {"zh": "事件列表", "en": "Cases"},
    "officer": {"zh": "网格员", "en": "Grid officer"},
    "phone": {"zh": "电话", "en": "Phone"},
    "households": {"zh": "户数", "en": "Households"},
    "population": {"zh": "人口", "en": "Population"},
    "party_members": {"zh": "党员", "en": "Party members"},
    "party_households": {"zh": "党员中心户", "en": "Party households"},
    "area": {"zh": "面积(km²)", "en": "Area (km²)"},
    "open_cases": {"zh": "在办事件", "en": "Open cases"},
    "reach_warnings": {"zh": "波及本网格的预警", "en": "Warnings reaching this grid"},
    "near_resources": {"zh": "格内及附近力量", "en": "Resources in or near"},
    "none": {"zh": "无", "en": "None"},
    "town": {"zh": "大路镇", "en": "Dalu Town"},
    "grid_panel_hint": {"zh": "点击地图上的村/社区下钻,点击网格查看详情",
                        "en": "Click a village to drill down, a grid for its details"},
    "id": {"zh": "编号", "en": "No."},
    "title_col": {"zh": "事项", "en": "Matter"},
    "grid": {"zh": "网格", "en": "Grid"},
    "reported_at": {"zh": "上报时间", "en": "Reported"},
    "deadline_at": {"zh": "办理时限", "en": "Deadline"},
    "tier": {"zh": "化解层级", "en": "Tier"},
    "age": {"zh": "已历时", "en": "Age"},
    "days": {"zh": "天", "en": " d"},
    "hours": {"zh": "小时", "en": " h"},
    "radius": {"zh": "影响半径", "en": "Radius"},
    "issued": {"zh": "发布时间", "en": "Issued"},
    "level_word": {"zh": "等级", "en": "Level"},
    "kind": {"zh": "类别", "en": "Kind"},
    "contact": {"zh": "联系人", "en": "Contact"},
    "distance": {"zh": "距离", "en": "Distance"},
    "inside": {"zh": "格内", "en": "inside"},
    "acknowledge": {"zh": "确认收到", "en": "Acknowledge"},
    "import": {"zh": "导入事件/预警文件", "en": "Import cases or warnings"},
    "import_drop": {"zh": "拖入或点击选择 CSV / XLSX / GeoJSON 文件",
                    "en": "Drop or choose a CSV, XLSX or GeoJSON file"},
    "import_all": {"zh": "有错则全部不导入", "en": "All or nothing"},
    "import_good": {"zh": "导入正确行,报告错误行", "en": "Store good rows, report the rest"},
    "import_source": {"zh": "默认来源", "en": "Default source"},
    "import_refused": {"zh": "当前角色无权导入", "en": "This role may not import"},
    "wall_title": {"zh": "大路镇智慧乡镇 · 指挥大屏", "en": "Dalu Town · command wall"},
    "offline": {"zh": "离线", "en": "Offline"},
    "updated_s": {"zh": "数据更新于 {n} 秒前", "en": "Data as of {n} s ago"},
    "updated_m": {"zh": "数据更新于 {n} 分钟前", "en": "Data as of {n} min ago"},
    "updated_h": {"zh": "数据更新于 {n} 小时前", "en": "Data as of {n} h ago"},
    "beijing": {"zh": "北京时间", "en": "Beijing"},
    "weekdays": {"zh": "周日,周一,周二,周三,周四,周五,周六", "en": "Sun,Mon,Tue,Wed,Thu,Fri,Sat"},
    "ranking": {"zh": "村/社区排名", "en": "Village ranking"},
    "rank": {"zh": "名次", "en": "#"},
    "score": {"zh": "得分", "en": "Score"},
    "feed": {"zh": "最新事件", "en": "Newest cases"},
    "just_now": {"zh": "刚刚", "en": "just now"},
    "minutes": {"zh": "分钟", "en": " min"},
    "ago": {"zh": "前", "en": " ago"},
    "whole_town": {"zh": "全镇", "en": "Whole town"},
    "tour_stop": {"zh": "巡览", "en": "Tour"},
    "legend_open": {"zh": "村/社区颜色:在办事件数", "en": "Village colour: open cases"},
    "rank_done": {"zh": "办结率", "en": "Done"},
    "rank_overdue": {"zh": "超期", "en": "Late"},
    # responder view (/grid/<grid_id>) and the export links
    "rsp_call": {"zh": "拨打", "en": "Call"},
    "rsp_masked": {"zh": "号码按权限遮蔽", "en": "number hidden for this role"},
    "rsp_back_village": {"zh": "回到村/社区", "en": "Back to village"},
    "rsp_back_town": {"zh": "全镇地图", "en": "Town map"},
    "rsp_downloads": {"zh": "下载现场图(离线可用)", "en": "Download the field map (works offline)"},
    "rsp_more": {"zh": "更多", "en": "More"},
    "rsp_updated": {"zh": "更新于", "en": "Updated"},
    "rsp_refresh": {"zh": "刷新", "en": "Refresh"},
    "rsp_deadline": {"zh": "时限", "en": "due"},
    "rsp_warning_map": {"zh": "预警现场图", "en": "Warning map"},
    "rsp_neighbours": {"zh": "相邻网格", "en": "Neighbouring grids"},
    "rsp_not_grid": {"zh": "不是网格:网格编号形如 DL-01-01", "en": "is not a grid: grid ids look like DL-01-01"},
    "rsp_choose": {"zh": "请选择其中的网格:", "en": "Choose one of its grids:"},
    "rsp_no_grid": {"zh": "没有这个网格:", "en": "No such grid: "},
    "rsp_other_village": {"zh": "不属于本村/社区,无权查看", "en": "belongs to another village"},
    "rsp_dl_html": {"zh": "离线网页", "en": "Offline page"},
    "rsp_dl_pdf": {"zh": "PDF 打印", "en": "PDF (A4)"},
    "rsp_dl_png": {"zh": "PNG 图片", "en": "PNG image"},
    "rsp_map_legend": {"zh": "蓝粗线为本网格 · 颜色越深在办事件越多 · 大圆点为预警 · 红晕为超期事件",
                       "en": "thick blue: this grid · darker: more open cases · large dots: warnings · "
                             "red halo: overdue"},
    "export": {"zh": "导出", "en": "Export"},
    "daily_report": {"zh": "日报", "en": "Daily report"},
    "compass_北": {"zh": "北", "en": "N"},
    "compass_东北": {"zh": "东北", "en": "NE"},
    "compass_东": {"zh": "东", "en": "E"},
    "compass_东南": {"zh": "东南", "en": "SE"},
    "compass_南": {"zh": "南", "en": "S"},
    "compass_西南": {"zh": "西南", "en": "SW"},
    "compass_西": {"zh": "西", "en": "W"},
    "compass_西北": {"zh": "西北", "en": "NW"},
}


def t(key: str, lang: str = "zh") -> str:
    """The screen text for ``key`` in ``lang``."""
    return TEXT[key][lang]


# The closed loop: case card, statistics, sign-in (appended by the closed-loop issue).
TEXT.update({
    "case_card": {"zh": "事件详情", "en": "Case"},
    "handler": {"zh": "处置人", "en": "Handler"},
    "reporter": {"zh": "上报人", "en": "Reporter"},
    "source": {"zh": "来源", "en": "Source"},
    "max_tier": {"zh": "最高", "en": "highest"},
    "timeline": {"zh": "办理过程", "en": "Timeline"},
    "actions": {"zh": "操作", "en": "Actions"},
    "dispatch_to": {"zh": "派单给(推荐处置力量)", "en": "Dispatch to (suggested)"},
    "taker": {"zh": "接单党员", "en": "Taken by"},
    "move_text": {"zh": "说明", "en": "Text"},
    "move_text_hint": {"zh": "办结情况、回访结果,或退回/升级/撤销的原因;其他操作作为备注",
                       "en": "Result, verification, or the reason to return/escalate/cancel; a note otherwise"},
    "no_moves": {"zh": "当前角色对此事件无可执行操作", "en": "No move open to your role"},
    "close_card": {"zh": "关闭", "en": "Close"},
    "reload": {"zh": "重新载入", "en": "Reload"},
    "refused": {"zh": "未执行:", "en": "Refused: "},
    "moved": {"zh": "已完成:", "en": "Done: "},
    "reloaded": {"zh": "已重新载入", "en": "Reloaded"},
    "open_orders": {"zh": "待接单(接单池、微心愿)", "en": "Open orders (pool, micro-wishes)"},
    "stats": {"zh": "统计", "en": "Statistics"},
    "stage_times": {"zh": "各环节平均用时", "en": "Average time per stage"},
    "stage": {"zh": "环节", "en": "Stage"},
    "stage_count": {"zh": "件数", "en": "Cases"},
    "mean_h": {"zh": "平均(小时)", "en": "Mean (h)"},
    "median_h": {"zh": "中位(小时)", "en": "Median (h)"},
    "stage_report→dispatch": {"zh": "上报→派单", "en": "Reported → Dispatch"},
    "stage_dispatch→accept": {"zh": "派单→接单", "en": "Dispatch → Accept"},
    "stage_accept→resolve": {"zh": "接单→办结", "en": "Accept → Resolve"},
    "stage_resolve→close": {"zh": "办结→销号", "en": "Resolve → Close"},
    "backlog_village": {"zh": "各村/社区积压", "en": "Backlog by village"},
    "backlog_handler": {"zh": "处置人积压(前10)", "en": "Backlog by handler (top 10)"},
    "oldest_days": {"zh": "最久(天)", "en": "Oldest (d)"},
    "trend": {"zh": "每周趋势", "en": "Weekly trend"},
    "reported_n": {"zh": "上报", "en": "Reported"},
    "done_n": {"zh": "办结", "en": "Done"},
    "ranking_head": {"zh": "村/社区排名(镇长)", "en": "Village ranking"},
    "total_n": {"zh": "总数", "en": "Total"},
    "no_handler": {"zh": "(未派单)", "en": "(not dispatched)"},
    "logout": {"zh": "退出", "en": "Sign out"},
    "login": {"zh": "登录", "en": "Sign in"},
})


# One-point command on a warning (一点指挥): the warning card.
TEXT.update({
    "warn_card": {"zh": "预警 · 一点指挥", "en": "Warning · one-point command"},
    "warn_type": {"zh": "预警类型", "en": "Type"},
    "warn_level": {"zh": "预警等级", "en": "Level"},
    "warn_status": {"zh": "预警状态", "en": "Status"},
    "warn_affected": {"zh": "影响网格", "en": "Affected grids"},
    "warn_officers": {"zh": "影响网格网格员", "en": "Grid officers to call"},
    "warn_party": {"zh": "党员中心户 · 党员先锋岗", "en": "Party central households · pioneer posts"},
    "warn_support": {"zh": "附近志愿服务队 · 应急物资点", "en": "Volunteer teams · supply depots nearby"},
    "warn_cases": {"zh": "区域内在办事件", "en": "Open cases in the area"},
    "warn_tasks": {"zh": "已派处置任务", "en": "Tasks dispatched"},
    "warn_log": {"zh": "预警处置记录", "en": "Warning log"},
    "warn_dispatch": {"zh": "派单", "en": "Dispatch"},
    "warn_no_moves": {"zh": "当前角色对此预警无可执行操作", "en": "No action open to your role"},
    "warn_note": {"zh": "说明(可选)", "en": "Note (optional)"},
    # A contact's kind in the warning card; the other kinds are resource kinds (township.domain.vocab).
    "party_household": {"zh": "党员中心户", "en": "Party central household"},
})


# The desk console (one screen): its tabs, the table's loading line, the village operator's corrected URL.
TEXT.update({
    "tab_desk": {"zh": "指挥台", "en": "Desk"},
    "tab_stats": {"zh": "统计与数据", "en": "Statistics & data"},
    "table_loading": {"zh": "地图绘制后加载事件列表…", "en": "The case list loads once the map has drawn…"},
    "url_corrected": {"zh": "地址已更正:本账号只能查看{village},已显示{village}",
                      "en": "Address corrected: this account sees {village} only, which is shown"},
    "reset_village": {"zh": "重置筛选", "en": "Reset filters"},
    "no_sign_in": {"zh": "免登录", "en": "No sign-in"},
    "rsp_call_reporter": {"zh": "联系上报人", "en": "Call the reporter"},
    "rsp_no_reporter": {"zh": "在办事件无上报人电话", "en": "No reporter's number among the open cases"},
})


#: The texts inside dcc.Dropdown (Dash 4's ``labels``): its defaults are English.
DROPDOWN_LABELS: dict[str, dict[str, str]] = {
    "zh": {"select_all": "全选", "deselect_all": "取消全选", "selected_count": "已选 {num_selected} 项",
           "search": "搜索", "clear_search": "清除搜索", "clear_selection": "清除所选", "no_options_found": "无匹配项"},
    "en": {"select_all": "Select all", "deselect_all": "Deselect all", "selected_count": "{num_selected} selected",
           "search": "Search", "clear_search": "Clear search", "clear_selection": "Clear selection",
           "no_options_found": "No options found"},
}

#: The case table's own texts (AG Grid ``localeText``) in Chinese; English is AG Grid's default.
GRID_LOCALE_ZH: dict[str, str] = {
    "loadingOoo": "加载中…", "loadingError": "加载出错", "noRowsToShow": "无", "page": "页", "of": "/", "to": "至",
    "more": "更多", "next": "下一页", "last": "末页", "first": "首页", "previous": "上一页",
    "pinColumn": "固定列", "pinLeft": "固定在左侧", "pinRight": "固定在右侧", "noPin": "取消固定",
    "autosizeThisColumn": "自动调整此列宽度", "autosizeAllColumns": "自动调整所有列宽度", "resetColumns": "重置列",
    "sortAscending": "升序", "sortDescending": "降序", "sortUnSort": "取消排序", "columns": "列",
    "copy": "复制", "ctrlC": "Ctrl+C", "export": "导出", "csvExport": "导出 CSV", "ariaRowSelect": "选择此行",
    "searchOoo": "搜索…", "selectAll": "全选", "blanks": "(空白)", "noMatches": "无匹配项",
    "columnMenu": "列菜单", "hideColumn": "隐藏列", "chooseColumns": "选择列",
}


def dropdown_labels(lang: str) -> dict[str, str]:
    """The texts inside a dcc.Dropdown in ``lang``."""
    return DROPDOWN_LABELS.get(lang, DROPDOWN_LABELS["zh"])


def grid_locale(lang: str, none_text: str) -> dict[str, str]:
    """AG Grid's ``localeText`` in ``lang``, with ``none_text`` for an empty table."""
    return {**(GRID_LOCALE_ZH if lang == "zh" else {"loadingOoo": "Loading…"}), "noRowsToShow": none_text}
