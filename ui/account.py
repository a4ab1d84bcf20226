"""Who is signed in, in the page header: name, role, and the way out (or in)."""
from __future__ import annotations

from dash import html

from layers.text import t
from township.domain.vocab import ROLES
from township.loop.workflow import Actor
from ui import ids


def account_bar(viewer: Actor, signed_in: bool, lang: str) -> html.Div:
    """``小滩子村值班员 · 村/社区值班员 · 退出``; a viewer who did not sign in gets 登录 instead."""
    role = ROLES.get(viewer.role, {}).get(lang, viewer.role)
    link = html.A(t("logout", lang), href="/logout", id="account-logout") if signed_in else \
        html.A(t("login", lang), href="/login", id="account-login")
    # Not signed in (a kiosk's default role), the name is only the role's (auth.default_viewer): say that instead.
    name = viewer.name if signed_in else t("no_sign_in", lang)
    return html.Div([html.Span(name, id="account-name"), html.Span(role, className="account-role"), link],
                    id=ids.ACCOUNT, className="account", **{"data-role": viewer.role})
