"""Who is signed in, in the page header: name, role, and the way out (or in)."""
from __future__ import annotations

from collections.abc import Sequence

from dash import html

from layers.text import t
from township.domain.vocab import ROLES
from township.loop.workflow import Actor
from ui import ids

#: How auth.default_viewer ends the name of who has not signed in (``镇指挥中心(免登录)``).
KIOSK_SUFFIX = "(免登录)"


def account_bar(viewer: Actor, signed_in: bool, lang: str, unread: int = 0, latest: Sequence[str] = ()) -> html.Div:
    """``小滩子村值班员 · 村/社区值班员 · 3 · 退出``; a viewer who did not sign in gets 登录 instead.

    ``unread`` notifications show as a badge (none: no badge) whose tooltip holds the ``latest`` messages.
    """
    role = ROLES.get(viewer.role, {}).get(lang, viewer.role)
    link = html.A(t("logout", lang), href="/logout", id="account-logout") if signed_in else \
        html.A(t("login", lang), href="/login", id="account-login")
    # A kiosk's default viewer (auth.default_viewer) is named by its role in Chinese: say "no sign-in" instead.
    name = t("no_sign_in", lang) if not signed_in and viewer.name.endswith(KIOSK_SUFFIX) else viewer.name
    badge = [html.Span(str(unread) if unread < 100 else "99+", id=ids.ACCOUNT_UNREAD, className="account-unread",
                       title=f"{unread} {t('notify_unread', lang)}\n" + "\n".join(latest))] if unread else []
    return html.Div([html.Span(name, id="account-name"), html.Span(role, className="account-role"), *badge,
                     link], id=ids.ACCOUNT, className="account", **{"data-role": viewer.role})
