"""Masking of personal data (PIPL): names as 张*, phones as 138****1234."""
from __future__ import annotations

from township.domain.policy import ANONYMOUS_ROLE, Viewer, sees_person, sees_personal


def mask_name(name: str | None) -> str:
    """``张三丰`` → ``张**``: keep the surname, hide the rest."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str | None) -> str:
    """``13812341234`` → ``138****1234``; a short number keeps only its last 2 digits."""
    if not phone:
        return ""
    if len(phone) >= 11:
        return phone[:3] + "****" + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def shown_name(name: str | None, role: str) -> str:
    """The name as ``role`` may see it."""
    return (name or "") if sees_personal(role) else mask_name(name)


def shown_phone(phone: str | None, role: str) -> str:
    """The phone number as ``role`` may see it."""
    return (phone or "") if sees_personal(role) else mask_phone(phone)


def person_role(viewer: Viewer, village_id: str | None) -> str:
    """The role whose masking applies to a person of ``village_id`` shown to ``viewer``: the viewer's own,
    or the anonymous (masked) view for a village operator looking at another village's person."""
    return viewer.role if sees_person(viewer, village_id) else ANONYMOUS_ROLE
