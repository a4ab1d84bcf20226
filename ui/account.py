"""Who is signed in, in the page header: name, role, the unread badge, and the way out (or in)."""
from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from layers.text import t
from township.domain.vocab import ROLES
from township.loop.workflow import Actor
from ui import ids

#: How auth.default_viewer ends the name of who has not signed in (``镇指挥中心(免登录)``).
KIOSK_SUFFIX = "(免登录)"
#: How often the badge asks for the count again, besides each new data version: the notifier puts a
#: move's notification on the lists after the move, without a new data version.
UNREAD_POLL_MS = 5000


def badge(unread: int, latest: Sequence[str], lang: str) -> tuple[str, bool, str]:
    """The badge's text, hidden flag and tooltip: ``3`` (``99+`` past 99), hidden at 0, the ``latest`` messages."""
    text = str(unread) if unread < 100 else "99+"
    return text, not unread, f"{unread} {t('notify_unread', lang)}\n" + "\n".join(latest) if unread else ""


def account_bar(viewer: Actor, signed_in: bool, lang: str, unread: int = 0, latest: Sequence[str] = ()) -> html.Div:
    """``小滩子村值班员 · 村/社区值班员 · 3 · 退出``; a viewer who did not sign in gets 登录 instead.

    ``unread`` notifications show as a badge (none: hidden) whose tooltip holds the ``latest`` messages;
    callbacks/account.py keeps it current.
    """
    role = ROLES.get(viewer.role, {}).get(lang, viewer.role)
    link = html.A(t("logout", lang), href="/logout", id="account-logout") if signed_in else \
        html.A(t("login", lang), href="/login", id="account-login")
    # A kiosk's default viewer (auth.default_viewer) is named by its role in Chinese: say "no sign-in" instead.
    name = t("no_sign_in", lang) if not signed_in and viewer.name.endswith(KIOSK_SUFFIX) else viewer.name
    text, hidden, title = badge(unread, latest, lang)
    return html.Div([html.Span(name, id="account-name"), html.Span(role, className="account-role"),
                     html.Span(text, id=ids.ACCOUNT_UNREAD, className="account-unread", title=title, hidden=hidden),
                     link, dcc.Interval(id=ids.ACCOUNT_POLL, interval=UNREAD_POLL_MS)],
                    id=ids.ACCOUNT, className="account", **{"data-role": viewer.role})
