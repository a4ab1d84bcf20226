"""The admin page's layout: grid versions (check an upload on a map, diff, apply, restore), rosters, users and tokens.

Only an administrator is shown it (`township.domain.policy.may_administer`);
its callbacks are `callbacks.admin`.
"""
from __future__ import annotations

from dash import dcc, html

from layers.text import GRID_RULES, t
from township.accounts.devices import Device
from township.domain.vocab import ROLES, label
from township.grids.compare import GridCheck, GridDiff
from township.grids.model import GridSet
from township.grids.rules import format_area
from township.loop.gridversions import Impact, VersionInfo
from township.store.models import ApiToken, User
from ui import ids

#: Rows of a long list (cases that change grid ...) shown before "… and N more".
LIST_LIMIT = 20


def _table(head: list[str], rows: list[list[object]], table_id: str | None = None) -> html.Table:
    kw = {"id": table_id} if table_id else {}
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                       html.Tbody([html.Tr([html.Td(str(c)) for c in r]) for r in rows])],
                      className="admin-table", **kw)


def _more(items: list[str]) -> str:
    shown = "、".join(items[:LIST_LIMIT])
    return shown + (f" … (+{len(items) - LIST_LIMIT})" if len(items) > LIST_LIMIT else "")


def check_report(check: GridCheck, lang: str) -> list:
    """The check's verdict, how the file was read, and every problem numbered as on the map."""
    notes = [html.Li(n) for n in check.notes]
    if check.ok:
        assert check.gridset is not None
        counts = "/".join(str(len(check.gridset.ids(level=lvl))) for lvl in (1, 2, 3))
        return [html.P(f"{t('admin_grid_ok', lang)} · {check.filename} · {counts}", className="admin-ok"),
                html.Ul(notes)]
    problems = [html.Li([html.B(label(GRID_RULES, v.rule, lang)), " ", v.message], **{"data-rule": v.rule})
                for v in check.violations]
    return [html.P(f"{check.filename} · " + t("admin_grid_bad", lang).format(n=len(check.violations)),
                   className="admin-bad"),
            html.Ul(notes), html.Ol(problems, className="admin-problems")]


def diff_panel(diff: GridDiff, impact: Impact, current: GridSet, lang: str) -> list:
    """Added, removed, renamed and reshaped grids (areas in m²), then what it does to cases, warnings and handlers."""
    out: list = [html.H4(t("admin_diff", lang))]
    if diff.empty:
        out.append(html.P(t("admin_same", lang)))
    if diff.added:
        out.append(html.P(f"{t('admin_added', lang)} {len(diff.added)}: {_more(diff.added)}", id="admin-diff-added"))
    if diff.removed:
        names = [f"{g} {current.props(g)['name']}" if g in current else g for g in diff.removed]
        out.append(html.P(f"{t('admin_removed', lang)} {len(diff.removed)}: {_more(names)}", id="admin-diff-removed"))
    if diff.renamed:
        out.append(html.P(f"{t('admin_renamed', lang)} {len(diff.renamed)}: "
                          + _more([f"{g} {a} → {b}" for g, a, b in diff.renamed]), id="admin-diff-renamed"))
    if diff.reshaped:
        out.append(html.H5(f"{t('admin_reshaped', lang)} {len(diff.reshaped)}"))
        out.append(_table(["", t("admin_area_old", lang), t("admin_area_new", lang), t("admin_area_moved", lang)],
                          [[r.grid_id, format_area(r.old_m2), format_area(r.new_m2), format_area(r.moved_m2)]
                           for r in diff.reshaped], "admin-diff-reshaped"))
    out.append(html.H4(t("admin_impact", lang)))
    out.append(html.Ul([
        html.Li([t("admin_impact_cases", lang).format(n=len(impact.cases)), " ",
                 html.Small(_more([f"#{c} {a or '—'} → {b or '—'}" for c, a, b in impact.cases]))],
                id="admin-impact-cases"),
        html.Li([t("admin_impact_warnings", lang).format(n=len(impact.warnings)), " ",
                 html.Small(_more([f"#{w} {a or '—'} → {b or '—'}" for w, a, b in impact.warnings]))]),
        html.Li([t("admin_impact_handlers", lang).format(n=len(impact.handlers)), " ",
                 html.Small(_more([f"{name} ({g})" for _, name, g in impact.handlers]))]),
    ]))
    return out


def versions_table(versions: list[VersionInfo], lang: str) -> html.Table:
    """Every kept version, newest first, the one in use marked."""
    return _table(["#", t("admin_created", lang), t("admin_username", lang), t("admin_grid_count", lang), "",
                   t("admin_applied_at", lang), ""],
                  [[v.id, v.created_at.replace("T", " "), v.created_by, v.grids, v.note,
                    (v.applied_at or "").replace("T", " "), t("admin_in_use", lang) if v.active else ""]
                   for v in versions], "admin-versions-table")


def version_options(versions: list[VersionInfo], lang: str) -> list[dict]:
    return [{"label": f"#{v.id} {v.created_at.replace('T', ' ')} {v.created_by}"
                      + (f" ({t('admin_in_use', lang)})" if v.active else ""), "value": v.id} for v in versions]


def users_table(users: list[User], lang: str) -> html.Table:
    return _table([t("admin_username", lang), t("admin_display", lang), t("admin_role", lang), "",
                   t("admin_active", lang)],
                  [[u.username, u.display_name, label(ROLES, u.role, lang), u.village_id or u.handler_id or "",
                    t("admin_on" if u.active else "admin_off", lang)] for u in users], "admin-users-table")


def user_options(users: list[User]) -> list[dict]:
    return [{"label": f"{u.username} · {u.display_name}", "value": u.id} for u in users]


def tokens_table(tokens: list[ApiToken], lang: str) -> html.Table:
    return _table([t("admin_token", lang), t("admin_role", lang), "", t("admin_created", lang)],
                  [[k.name, label(ROLES, k.role, lang), k.village_id or "",
                    k.created_at.isoformat(sep=" ", timespec="minutes")] for k in tokens], "admin-tokens-table")


def token_options(tokens: list[ApiToken]) -> list[dict]:
    return [{"label": k.name, "value": k.id} for k in tokens]


def devices_table(devices: list[Device], lang: str) -> html.Table:
    """Phones signed in to the field app: whose, since when, last seen, which browser, open or not."""
    return _table([t("admin_username", lang), t("admin_created", lang), t("admin_last_seen", lang),
                   t("admin_device", lang), t("admin_active", lang)],
                  [[d.username, d.created_at.isoformat(sep=" ", timespec="minutes"),
                    d.last_seen_at.isoformat(sep=" ", timespec="minutes"), d.user_agent[:60],
                    t("admin_on" if d.active else "admin_off", lang)] for d in devices], "admin-devices-table")


def device_options(devices: list[Device]) -> list[dict]:
    return [{"label": f"{d.username} · {d.user_agent[:40]} · {d.last_seen_at.isoformat(sep=' ', timespec='minutes')}",
             "value": d.id} for d in devices if d.active]


def page(versions: list[VersionInfo], users: list[User], tokens: list[ApiToken], devices: list[Device],
         villages: list[dict], in_use: dict, lang: str) -> html.Div:
    """The whole page for an administrator; ``in_use`` is the map of the grids in use, until a file is dropped."""
    button = {"className": "admin-button", "n_clicks": 0}
    grids = html.Section([
        html.H3(t("admin_grids", lang)),
        dcc.Upload(html.Div(t("admin_grid_drop", lang)), id=ids.ADMIN_GRID_UPLOAD, className="upload",
                   accept=".geojson,.json,.zip,.gpkg,.kml,.kmz"),
        html.Div(id=ids.ADMIN_GRID_REPORT, className="admin-report"),
        dcc.Graph(id=ids.ADMIN_GRID_MAP, figure=in_use,
                  config={"displaylogo": False}, style={"height": "600px"}),
        html.Div(id=ids.ADMIN_GRID_DIFF, className="admin-diff"),
        dcc.Store(id=ids.ADMIN_GRID_CANDIDATE),
        html.Button(t("admin_apply", lang), id=ids.ADMIN_GRID_APPLY, disabled=True, **button),
        html.Div(id=ids.ADMIN_GRID_RESULT, className="admin-result"),
        html.H4(t("admin_versions", lang)),
        html.Div(versions_table(versions, lang), id=ids.ADMIN_VERSIONS),
        html.Div([dcc.Dropdown(version_options(versions, lang), None, id=ids.ADMIN_VERSION_PICK,
                               placeholder=t("admin_pick", lang), className="admin-pick"),
                  html.Button(t("admin_restore", lang), id=ids.ADMIN_VERSION_RESTORE, **button)],
                 className="admin-row"),
    ], className="admin-section")
    staff = html.Section([
        html.H3(t("admin_staff", lang)),
        dcc.Checklist([{"label": t("admin_staff_accounts", lang), "value": "accounts"}], [],
                      id=ids.ADMIN_STAFF_ACCOUNTS),
        dcc.Upload(html.Div(t("admin_staff_drop", lang)), id=ids.ADMIN_STAFF_UPLOAD, className="upload",
                   accept=".csv,.xlsx"),
        html.Pre(id=ids.ADMIN_STAFF_REPORT, className="import-report"),
    ], className="admin-section")
    roles = [{"label": label(ROLES, r, lang), "value": r} for r in ROLES]
    people = html.Section([
        html.H3(t("admin_users", lang)),
        html.Div(users_table(users, lang), id=ids.ADMIN_USERS),
        html.Div([dcc.Input(id=ids.ADMIN_USER_NAME, className="admin-input", placeholder=t("admin_username", lang)),
                  dcc.Input(id=ids.ADMIN_USER_DISPLAY, className="admin-input", placeholder=t("admin_display", lang)),
                  dcc.Dropdown(roles, None, id=ids.ADMIN_USER_ROLE, placeholder=t("admin_role", lang),
                               className="admin-pick"),
                  dcc.Dropdown(villages, None, id=ids.ADMIN_USER_VILLAGE, placeholder=t("village", lang),
                               className="admin-pick"),
                  dcc.Input(id=ids.ADMIN_USER_PASSWORD, className="admin-input", type="password",
                            placeholder=t("admin_password", lang)),
                  html.Button(t("admin_create", lang), id=ids.ADMIN_USER_CREATE, **button)], className="admin-row"),
        html.Div([dcc.Dropdown(user_options(users), None, id=ids.ADMIN_USER_PICK, placeholder=t("admin_pick", lang),
                               className="admin-pick"),
                  html.Button(t("admin_disable", lang), id=ids.ADMIN_USER_DISABLE, **button),
                  html.Button(t("admin_enable", lang), id=ids.ADMIN_USER_ENABLE, **button),
                  html.Button(t("admin_reset", lang), id=ids.ADMIN_USER_RESET, **button)], className="admin-row"),
        html.Div(tokens_table(tokens, lang), id=ids.ADMIN_TOKENS),
        html.Div([dcc.Dropdown(token_options(tokens), None, id=ids.ADMIN_TOKEN_PICK,
                               placeholder=t("admin_pick", lang), className="admin-pick"),
                  html.Button(t("admin_revoke", lang), id=ids.ADMIN_TOKEN_REVOKE, **button)], className="admin-row"),
        html.H4(t("admin_devices", lang)),
        html.Div(devices_table(devices, lang), id=ids.ADMIN_DEVICES),
        html.Div([dcc.Dropdown(device_options(devices), None, id=ids.ADMIN_DEVICE_PICK,
                               placeholder=t("admin_pick", lang), className="admin-pick"),
                  html.Button(t("admin_device_revoke", lang), id=ids.ADMIN_DEVICE_REVOKE, **button)],
                 className="admin-row"),
        html.Pre(id=ids.ADMIN_USERS_MSG, className="admin-result"),
    ], className="admin-section")
    return html.Div([html.H2(t("admin_title", lang)), grids, staff, people], className="admin-page", id="admin-page")
