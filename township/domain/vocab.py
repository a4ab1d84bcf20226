"""The domain vocabulary: English codes in code, Chinese (or English) on screen.

Every code the product knows is listed here once, with its label in each
language. See docs/design.md §1.
"""
from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

#: Grid levels: 1 town, 2 village/community, 3 grid.
GRID_LEVELS: dict[int, dict[str, str]] = {
    1: {"zh": "镇", "en": "Town"},
    2: {"zh": "村/社区", "en": "Village"},
    3: {"zh": "网格", "en": "Grid"},
}

GRID_KINDS: dict[str, dict[str, str]] = {
    "town": {"zh": "镇", "en": "Town"},
    "village": {"zh": "村", "en": "Village"},
    "community": {"zh": "社区", "en": "Community"},
    "grid": {"zh": "网格", "en": "Grid"},
}

#: The level each grid kind lives on.
KIND_LEVEL: dict[str, int] = {"town": 1, "village": 2, "community": 2, "grid": 3}

#: Roles of a viewer (docs/design.md §5): who is looking decides what is shown and allowed
#: (`township.domain.policy`). ``system`` is not a role of a person: the sweeps and the demo feed.
ROLES: dict[str, dict[str, str]] = {
    "admin": {"zh": "系统管理员", "en": "Administrator"},
    "command": {"zh": "镇指挥中心", "en": "Command centre"},
    "village": {"zh": "村/社区值班员", "en": "Village operator"},
    "responder": {"zh": "网格员", "en": "Responder"},
    "wall": {"zh": "指挥大屏", "en": "Wall display"},
}

DOMAINS: dict[str, dict[str, str]] = {
    "party": {"zh": "党建", "en": "Party building"},
    "safety": {"zh": "平安预警", "en": "Safety & warning"},
    "agriculture": {"zh": "农业", "en": "Agriculture"},
    "construction": {"zh": "城建", "en": "Urban construction"},
    "economy": {"zh": "经济", "en": "Economy"},
    "governance": {"zh": "综治", "en": "Governance"},
    "livelihood": {"zh": "民生实事", "en": "Livelihood"},
}

CASE_TYPES: dict[str, dict[str, str]] = {
    "dispute": {"zh": "矛盾纠纷", "en": "Dispute"},
    "hotline": {"zh": "市长热线工单", "en": "Hotline ticket"},
    "proposal": {"zh": "村民说事", "en": "Villager matter"},
    "wish": {"zh": "微心愿", "en": "Micro-wish"},
    "petition": {"zh": "信访代办", "en": "Petition by proxy"},
    "service": {"zh": "便民服务", "en": "Convenience service"},
    "hazard": {"zh": "隐患", "en": "Hazard"},
}

CASE_SOURCES: dict[str, dict[str, str]] = {
    "hotline": {"zh": "市长热线", "en": "Hotline"},
    "patrol": {"zh": "网格员巡查", "en": "Patrol"},
    "citizen": {"zh": "群众点单", "en": "Citizen"},
    "meeting": {"zh": "村民说事会", "en": "Meeting"},
    "visit": {"zh": "接访/下访", "en": "Visit"},
    "sensor": {"zh": "传感器", "en": "Sensor"},
}

#: Case statuses, in the order of the closed loop, then the side exits.
CASE_STATUSES: dict[str, dict[str, str]] = {
    "reported": {"zh": "已上报", "en": "Reported"},
    "dispatched": {"zh": "已派单", "en": "Dispatched"},
    "accepted": {"zh": "已接单", "en": "Accepted"},
    "in_progress": {"zh": "处置中", "en": "In progress"},
    "resolved": {"zh": "已办结", "en": "Resolved"},
    "closed": {"zh": "已销号", "en": "Closed"},
    "returned": {"zh": "退回", "en": "Returned"},
    "cancelled": {"zh": "已撤销", "en": "Cancelled"},
}

#: Statuses in which a case still needs work (it can be overdue).
OPEN_STATUSES: frozenset[str] = frozenset(
    {"reported", "dispatched", "accepted", "in_progress", "returned"}
)
#: Statuses that count as done for 办结率.
DONE_STATUSES: frozenset[str] = frozenset({"resolved", "closed"})

#: Map colours of case statuses (done ones grey-green, open ones warm).
CASE_STATUS_COLORS: dict[str, str] = {
    "reported": "#8E24AA",
    "dispatched": "#3949AB",
    "accepted": "#00897B",
    "in_progress": "#F4511E",
    "resolved": "#7CB342",
    "closed": "#9E9E9E",
    "returned": "#6D4C41",
    "cancelled": "#BDBDBD",
}

#: Tiers of 分级化解, lowest first; a case's tier only moves up.
TIERS: dict[str, dict[str, str]] = {
    "grid": {"zh": "网格", "en": "Grid"},
    "village": {"zh": "村/社区", "en": "Village"},
    "township": {"zh": "镇", "en": "Township"},
    "county": {"zh": "旗", "en": "County"},
}

#: Default days to resolve at each tier (the SLA; the workflow issue makes it configurable).
TIER_DAYS: dict[str, int] = {"grid": 3, "village": 3, "township": 7, "county": 15}

#: Warning levels, the national four colours; 1 is the most severe.
WARNING_LEVELS: dict[int, dict[str, str]] = {
    1: {"zh": "红色", "en": "Red", "color": "#E53935"},
    2: {"zh": "橙色", "en": "Orange", "color": "#FB8C00"},
    3: {"zh": "黄色", "en": "Yellow", "color": "#FDD835"},
    4: {"zh": "蓝色", "en": "Blue", "color": "#1E88E5"},
}

#: Warning types: the national meteorological warning signals (气象灾害预警信号) and the local
#: hazards; each ``zh`` is the name as it starts a real alert's event (暴雨 in 暴雨蓝色预警).
WARNING_TYPES: dict[str, dict[str, str]] = {
    "ice_flood": {"zh": "凌汛洪水", "en": "Ice flood"},
    "flash_flood": {"zh": "山洪", "en": "Flash flood"},
    "geological": {"zh": "地质灾害", "en": "Geological hazard"},
    "chemical_leak": {"zh": "危化品泄漏", "en": "Chemical leak"},
    "fire": {"zh": "火灾", "en": "Fire"},
    "forest_fire": {"zh": "森林草原火险", "en": "Forest/grassland fire danger"},
    "subsidence": {"zh": "采空区塌陷", "en": "Mine subsidence"},
    "typhoon": {"zh": "台风", "en": "Typhoon"},
    "rainstorm": {"zh": "暴雨", "en": "Rainstorm"},
    "blizzard": {"zh": "暴雪", "en": "Blizzard"},
    "cold_wave": {"zh": "寒潮", "en": "Cold wave"},
    "gale": {"zh": "大风", "en": "Gale"},
    "sandstorm": {"zh": "沙尘暴", "en": "Sandstorm"},
    "heat": {"zh": "高温", "en": "Heat"},
    "drought": {"zh": "干旱", "en": "Drought"},
    "lightning": {"zh": "雷电", "en": "Lightning"},
    "hail": {"zh": "冰雹", "en": "Hail"},
    "frost": {"zh": "霜冻", "en": "Frost"},
    "fog": {"zh": "大雾", "en": "Heavy fog"},
    "haze": {"zh": "霾", "en": "Haze"},
    "road_icing": {"zh": "道路结冰", "en": "Road icing"},
    "public_security": {"zh": "治安", "en": "Public security"},
}

WARNING_STATUSES: dict[str, dict[str, str]] = {
    "active": {"zh": "生效", "en": "Active"},
    "acknowledged": {"zh": "已确认", "en": "Acknowledged"},
    "handling": {"zh": "处置中", "en": "Handling"},
    "cleared": {"zh": "已解除", "en": "Cleared"},
}

#: Warning statuses that still count as live on the map.
LIVE_WARNING_STATUSES: frozenset[str] = frozenset({"active", "acknowledged", "handling"})

RESOURCE_KINDS: dict[str, dict[str, str]] = {
    "pioneer_post": {"zh": "党员先锋岗", "en": "Party pioneer post"},
    "volunteer_team": {"zh": "志愿服务队", "en": "Volunteer team"},
    "social_work_station": {"zh": "社工站", "en": "Social-work station"},
    "civilisation_station": {"zh": "新时代文明实践站", "en": "Civilisation practice station"},
    "legal_adviser": {"zh": "法律顾问", "en": "Legal adviser"},
    "governance_centre": {"zh": "综治中心", "en": "Governance centre"},
    "supply_depot": {"zh": "应急物资点", "en": "Emergency supply depot"},
    "shelter": {"zh": "安置点", "en": "Shelter"},
}

RESOURCE_COLORS: dict[str, str] = {
    "pioneer_post": "#C62828",
    "volunteer_team": "#AD1457",
    "social_work_station": "#6A1B9A",
    "civilisation_station": "#EF6C00",
    "legal_adviser": "#283593",
    "governance_centre": "#00695C",
    "supply_depot": "#2E7D32",
    "shelter": "#0277BD",
}

#: Kinds of the people and teams a case is dispatched to (`township.store.models.Handler.kind`).
HANDLER_KINDS: dict[str, dict[str, str]] = {
    "officer": {"zh": "网格员", "en": "Grid officer"},
    "party_member": {"zh": "党员", "en": "Party member"},
    "volunteer_team": {"zh": "志愿服务队", "en": "Volunteer team"},
    "department": {"zh": "镇职能部门", "en": "Township department"},
    "legal_adviser": {"zh": "法律顾问", "en": "Legal adviser"},
}


#: What a case photo was taken for (`township.store.models.Photo.purpose`).
PHOTO_PURPOSES: dict[str, dict[str, str]] = {
    "report": {"zh": "上报照片", "en": "Report photo"},
    "resolve": {"zh": "办结照片", "en": "Resolution photo"},
    "progress": {"zh": "处置照片", "en": "Progress photo"},
}

# -- evacuation (转移安置, docs/design.md §1 "Evacuation") ------------------------------------------------

#: Flags of a household for people who need help to move (重点人群); extend here, the import reads the labels.
HOUSEHOLD_FLAGS: dict[str, dict[str, str]] = {
    "elderly_alone": {"zh": "独居老人", "en": "Elderly living alone"},
    "elderly": {"zh": "高龄老人", "en": "Very old"},
    "left_behind_child": {"zh": "留守儿童", "en": "Left-behind child"},
    "disabled": {"zh": "残疾人", "en": "Disabled"},
    "bedridden": {"zh": "重病/卧床", "en": "Seriously ill / bedridden"},
    "pregnant": {"zh": "孕产妇", "en": "Pregnant or new mother"},
    "low_income": {"zh": "低保/特困", "en": "Minimum-living / extreme poverty"},
}

#: A household's status in an evacuation, in the order of the way; then the side exits.
EVAC_STATUSES: dict[str, dict[str, str]] = {
    "pending": {"zh": "待通知", "en": "To notify"},
    "notified": {"zh": "已通知", "en": "Notified"},
    "moved": {"zh": "已转移", "en": "Moved"},
    "settled": {"zh": "已安置", "en": "Settled"},
    "refused": {"zh": "拒绝转移", "en": "Refused"},
    "unreachable": {"zh": "无法联系", "en": "Unreachable"},
}
#: Statuses that count as moved out of danger (the progress bars' share).
EVAC_SAFE: frozenset[str] = frozenset({"moved", "settled"})
#: Map colours of the evacuation statuses (safe ones green, refusals and the unreachable red/brown).
EVAC_STATUS_COLORS: dict[str, str] = {
    "pending": "#9E9E9E", "notified": "#FFB300", "moved": "#7CB342", "settled": "#2E7D32",
    "refused": "#C62828", "unreachable": "#6D4C41",
}
#: Warning types that open a 转移名单 by themselves at red or orange (any other by the operator's choice).
FLOOD_WARNING_TYPES: frozenset[str] = frozenset({"ice_flood", "flash_flood"})


def label(table: dict, code: object, lang: Lang = "zh") -> str:
    """Return the on-screen label of ``code`` in ``table``.

    Parameters
    ----------
    table : dict
        One of the vocabulary tables of this module.
    code : object
        The code to label; an unknown code is shown as itself.
    lang : {"zh", "en"}
        Screen language.
    """
    entry = table.get(code)
    return entry[lang] if entry else str(code)


# -- notifications (issue 13) -------------------------------------------------------------------------

#: What is told to whom (`township.loop.notify.RECIPIENTS`); the codes are the webhooks' ``type`` too.
NOTIFY_EVENTS: dict[str, dict[str, str]] = {
    "dispatched": {"zh": "派单", "en": "Dispatched"},
    "overdue": {"zh": "超期", "en": "Overdue"},
    "escalated": {"zh": "升级", "en": "Escalated"},
    "warning": {"zh": "红橙预警", "en": "Red/orange warning"},
    "reported": {"zh": "群众点单", "en": "Resident report"},
    "closed": {"zh": "已销号", "en": "Closed"},
    "reopened": {"zh": "重新办理", "en": "Reopened"},
}
#: Channels a subscription sends on.
NOTIFY_CHANNELS: dict[str, dict[str, str]] = {
    "webhook": {"zh": "Webhook", "en": "Webhook"},
    "wecom": {"zh": "企业微信群机器人", "en": "WeCom group robot"},
    "dingtalk": {"zh": "钉钉群机器人", "en": "DingTalk group robot"},
    "sms": {"zh": "短信", "en": "SMS"},
}
#: States of a delivery.
DELIVERY_STATUSES: dict[str, dict[str, str]] = {
    "pending": {"zh": "待发送", "en": "Pending"},
    "delivered": {"zh": "已送达", "en": "Delivered"},
    "dead": {"zh": "已放弃", "en": "Dead letter"},
}

#: What a resident reports (群众点单), in residents' words, and the case type and domain each becomes.
#: Two reports are "of the same kind" (附近已有人反映) when their type and domain are the same.
RESIDENT_CATEGORIES: dict[str, dict[str, str]] = {
    "road_light": {"zh": "路灯/道路", "en": "Street lights / roads", "type": "service", "domain": "construction"},
    "water": {"zh": "用水", "en": "Water supply", "type": "service", "domain": "livelihood"},
    "sanitation": {"zh": "环境卫生", "en": "Rubbish / sanitation", "type": "service", "domain": "construction"},
    "dispute": {"zh": "矛盾纠纷", "en": "A dispute", "type": "dispute", "domain": "governance"},
    "help": {"zh": "求助/微心愿", "en": "Help / a small wish", "type": "wish", "domain": "livelihood"},
    "hazard": {"zh": "安全隐患", "en": "A safety hazard", "type": "hazard", "domain": "safety"},
    "farming": {"zh": "农业生产", "en": "Farming", "type": "service", "domain": "agriculture"},
    "suggestion": {"zh": "村务建议", "en": "A suggestion for the village", "type": "proposal", "domain": "governance"},
    "other": {"zh": "其他", "en": "Something else", "type": "service", "domain": "livelihood"},
}

#: The closed loop's moves (`township.loop.workflow.MOVES`) as buttons and timeline steps say them.
CASE_MOVES: dict[str, dict[str, str]] = {
    "dispatch": {"zh": "派单", "en": "Dispatch"},
    "accept": {"zh": "接单", "en": "Accept"},
    "start": {"zh": "开始处置", "en": "Start work"},
    "resolve": {"zh": "办结", "en": "Resolve"},
    "close": {"zh": "销号", "en": "Close"},
    "return": {"zh": "退回", "en": "Return"},
    "cancel": {"zh": "撤销", "en": "Cancel"},
    "escalate": {"zh": "升级", "en": "Escalate"},
    "reopen": {"zh": "重办", "en": "Reopen"},
}

#: A warning's moves (`township.loop.warnings.WARNING_MOVES`) and its task dispatch, as the warning card says them.
WARNING_MOVE_LABELS: dict[str, dict[str, str]] = {
    "acknowledge": {"zh": "确认", "en": "Acknowledge"},
    "handle": {"zh": "处置", "en": "Handle"},
    "clear": {"zh": "解除", "en": "Clear"},
    "dispatch": {"zh": "派单", "en": "Dispatch task"},
}

#: Who wrote an audit record when it was not a person: the system's sweeps, an API token by its name's
#: prefix (``api:demo-feed-3f9a2c`` is the demo feed), ingest by source code (`CASE_SOURCES`).
SYSTEM_ACTORS: dict[str, dict[str, str]] = {
    "system": {"zh": "系统(自动升级)", "en": "System (auto-escalation)"},
    "api": {"zh": "接口", "en": "API"},
    "import": {"zh": "文件导入", "en": "File import"},
}
API_CLIENTS: dict[str, dict[str, str]] = {
    "demo-feed": {"zh": "演示数据源", "en": "Demo feed"},
    "hotline-bridge": {"zh": "12345热线接口", "en": "12345 hotline link"},
    "open311": {"zh": "Open311 接口", "en": "Open311 link"},
    "cap": {"zh": "预警信息接口", "en": "Warning feed"},
}

#: Hotspot bins (Getis-Ord Gi* after Benjamini–Hochberg, township.read.hotspots): hot/cold at 99/95/90 %.
HOTSPOT_BINS: dict[int, dict[str, str]] = {
    3: {"zh": "热点(99%置信)", "en": "Hot spot, 99 % confidence"},
    2: {"zh": "热点(95%置信)", "en": "Hot spot, 95 % confidence"},
    1: {"zh": "热点(90%置信)", "en": "Hot spot, 90 % confidence"},
    0: {"zh": "不显著", "en": "Not significant"},
    -1: {"zh": "冷点(90%置信)", "en": "Cold spot, 90 % confidence"},
    -2: {"zh": "冷点(95%置信)", "en": "Cold spot, 95 % confidence"},
    -3: {"zh": "冷点(99%置信)", "en": "Cold spot, 99 % confidence"},
}
#: Colours of the bins: reds hot, blues cold, grey not significant.
HOTSPOT_COLORS: dict[int, str] = {3: "#B71C1C", 2: "#E53935", 1: "#EF9A9A", 0: "#CFD8DC",
                                  -1: "#90CAF9", -2: "#1E88E5", -3: "#0D47A1"}
#: A grid's monthly trend in words (the rules: docs/design.md §1a).
TREND_LABELS: dict[str, dict[str, str]] = {
    "new": {"zh": "新出现", "en": "New"},
    "intensifying": {"zh": "加剧", "en": "Intensifying"},
    "diminishing": {"zh": "减弱", "en": "Diminishing"},
    "persistent": {"zh": "持续", "en": "Persistent"},
    "sporadic": {"zh": "零星", "en": "Sporadic"},
}
#: The units of the monthly evaluation (综合评价).
EVALUATION_UNITS: dict[str, dict[str, str]] = {
    "village": {"zh": "村/社区", "en": "Village"},
    "grid": {"zh": "网格", "en": "Grid"},
    "handler": {"zh": "处置人", "en": "Handler"},
}
