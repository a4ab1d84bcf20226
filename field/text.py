"""The field app's screen words, Chinese first and English; labels of codes come from the vocabulary.

One table for the server's pages and the phone's script: the script's words
go to the page as JSON (``JS_WORDS``), so both speak from here.
"""
from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "app": {"zh": "大路镇 · 现场端", "en": "Dalu Town · Field"},
    "my_tasks": {"zh": "我的任务", "en": "My tasks"},
    "pool": {"zh": "可接单", "en": "Open orders"},
    "no_tasks": {"zh": "暂无派给我的任务", "en": "Nothing dispatched to you"},
    "no_pool": {"zh": "本村暂无可接的单", "en": "No open orders in your village"},
    "pool_officer": {"zh": "接单池由本村党员接单", "en": "Party members of the village take open orders"},
    "overdue": {"zh": "超期", "en": "Overdue"},
    "deadline": {"zh": "期限", "en": "Due"},
    "report": {"zh": "巡查上报", "en": "Patrol report"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "lang": {"zh": "English", "en": "中文"},
    "back": {"zh": "返回任务", "en": "Back to tasks"},
    "the_report": {"zh": "事件内容", "en": "The report"},
    "place": {"zh": "位置", "en": "Place"},
    "navigate": {"zh": "导航前往", "en": "Navigate"},
    "copy": {"zh": "复制坐标", "en": "Copy coordinates"},
    "copied": {"zh": "已复制", "en": "Copied"},
    "reporter": {"zh": "上报人", "en": "Reporter"},
    "handler": {"zh": "处置人", "en": "Handler"},
    "tier": {"zh": "层级", "en": "Tier"},
    "timeline": {"zh": "处置记录", "en": "Timeline"},
    "no_moves": {"zh": "当前没有可由您办理的操作", "en": "Nothing for you to do on this case now"},
    "note": {"zh": "备注(可选)", "en": "Note (optional)"},
    "result": {"zh": "办结情况(必填)", "en": "What was done (required)"},
    "reason": {"zh": "退回原因(必填)", "en": "Why return it (required)"},
    "photos": {"zh": "照片", "en": "Photos"},
    "photo_needed": {"zh": "此类事件办结需附照片", "en": "This case type needs a photo to resolve"},
    "add_photos": {"zh": "拍照或选择照片", "en": "Take or choose photos"},
    "type": {"zh": "事件类型", "en": "Case type"},
    "domain": {"zh": "领域", "en": "Domain"},
    "description": {"zh": "情况描述", "en": "What you found"},
    "locate": {"zh": "用手机定位", "en": "Use my position"},
    "tap_map": {"zh": "或在地图上点选位置", "en": "or tap the place on the map"},
    "send": {"zh": "提交上报", "en": "Send report"},
    "no_position": {"zh": "尚未选定位置", "en": "No position yet"},
    "sign_in": {"zh": "登录现场端", "en": "Sign in"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "remember": {"zh": "本机保持登录 30 天,可随时退出",
                 "en": "This phone stays signed in for 30 days; sign out any time"},
    "wrong": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "throttled": {"zh": "密码错误次数过多,请 {wait} 秒后再试", "en": "Too many wrong passwords: try again in {wait} s"},
    "not_field": {"zh": "现场端供网格员和党员使用(须关联处置人);其他账号请用指挥平台", "en":
                  "The field app is for grid officers and party members (linked to a handler); use the dashboard"},
    "signed_out": {"zh": "已退出登录", "en": "Signed out"},
    "not_found": {"zh": "没有这个事件", "en": "No such case"},
    "distance": {"zh": "距我", "en": "from me"},
    # Words of the phone's script (JS_WORDS below).
    "outbox": {"zh": "待发送", "en": "Waiting to be sent"},
    "outbox_none": {"zh": "全部已发送", "en": "All sent"},
    "offline": {"zh": "离线:操作已保存在手机上,联网后自动发送", "en": "Offline: saved on this phone, sent when online"},
    "refused": {"zh": "未被接受", "en": "Not accepted"},
    "dismiss": {"zh": "知道了", "en": "OK"},
    "sending": {"zh": "正在发送…", "en": "Sending…"},
    "sent": {"zh": "已发送", "en": "Sent"},
    "locating": {"zh": "正在定位…", "en": "Locating…"},
    "no_geo": {"zh": "无法定位,请在地图上点选", "en": "No position: tap the map"},
    "photo_count": {"zh": "{n} 张照片", "en": "{n} photo(s)"},
    "from_photo": {"zh": "取自照片的位置信息", "en": "from the photo's position"},
}

#: The keys the phone's script needs, sent with each page.
JS_KEYS = ("outbox", "outbox_none", "offline", "refused", "dismiss", "sending", "sent", "copied", "locating",
           "no_geo", "distance", "no_position", "photo_count", "from_photo")


def word(key: str, lang: str) -> str:
    """The word ``key`` in ``lang`` (``zh`` or ``en``)."""
    return WORDS[key][lang]


def js_words(lang: str) -> dict[str, str]:
    """The script's words in ``lang``."""
    return {k: WORDS[k][lang] for k in JS_KEYS}
