"""The admin page (/admin): check a grid file on a map, diff it, apply it, restore a version; rosters; users, tokens
and the field app's phone sessions.

Every callback asks the policy first (`township.domain.policy.may_administer`):
another role gets the refusal text and nothing is read or written.
"""
from __future__ import annotations

import re

from dash import Dash, Input, Output, State, ctx, html, no_update

from auth import current_viewer
from callbacks.checked import record_id, text_of, upload
from layers.adminmap import validation_figure
from layers.text import t
from township.accounts.devices import list_devices, revoke_device
from township.accounts.tokens import list_tokens, revoke_token
from township.accounts.users import create_user, list_users, reset_password, set_active
from township.domain.policy import may_administer
from township.formats.roster import import_staff
from township.formats.tables import UnreadableFile
from township.grids.compare import GridCheck, check_grid_file, diff_gridsets
from township.grids.model import GridSet
from township.loop.gridversions import apply_version, impact, keep_version, list_versions
from township.runtime.bootstrap import AppContext
from ui import admin as ui
from ui import ids


def _lang(search: str | None) -> str:
    return "en" if search and re.search(r"(^|[?&])lang=en(&|$)", search) else "zh"


def _centre(gridset: GridSet) -> tuple[float, float]:
    x0, y0, x1, y1 = gridset.bounds()
    return (x0 + x1) / 2, (y0 + y1) / 2


def render_page(app_ctx: AppContext, _match: object, search: str | None) -> html.Div:
    """The admin page, or a refusal for any other role."""
    lang = _lang(search)
    if not may_administer(current_viewer(app_ctx).role):
        return html.Div(html.P(t("admin_refused", lang)), className="not-found", id="admin-refused")
    tw = app_ctx.township
    villages = [{"label": tw.gridset.props(v)["name"], "value": v} for v in tw.gridset.ids(level=2)]
    in_use = validation_figure(GridCheck(t("admin_in_use", lang), None, tw.gridset), lang=lang,
                               tile_url=app_ctx.settings.tile_url)
    return ui.page(list_versions(tw.engine), list_users(tw.engine), list_tokens(tw.engine), list_devices(tw.engine),
                   villages, in_use, lang)


def check_upload(app_ctx: AppContext, contents: object, filename: str, lang: str = "zh") -> tuple:
    """Check an uploaded grid file: (figure, report, diff panel, kept version id or None, apply disabled)."""
    viewer = current_viewer(app_ctx)
    if not may_administer(viewer.role):
        return no_update, t("admin_refused", lang), None, None, True
    tw = app_ctx.township
    check = check_grid_file(upload(contents) or b"", filename, near=lambda: _centre(tw.gridset))
    tile = app_ctx.settings.tile_url
    if check.gridset is None:
        return validation_figure(check, lang=lang, tile_url=tile), ui.check_report(check, lang), None, None, True
    current = tw.gridset
    diff = diff_gridsets(current, check.gridset)
    panel = ui.diff_panel(diff, impact(tw.engine, check.gridset), current, lang)
    vid = keep_version(tw.engine, check.gridset, viewer.name, filename)
    return (validation_figure(check, current, diff, lang, tile), ui.check_report(check, lang), panel, vid,
            diff.empty)


def put_in_use(app_ctx: AppContext, version_id: int | None, lang: str = "zh") -> tuple:
    """Apply (or restore) a version: (result text, versions table, version choices)."""
    viewer = current_viewer(app_ctx)
    if not may_administer(viewer.role):
        return t("admin_refused", lang), no_update, no_update
    if version_id is None:
        return t("admin_pick", lang), no_update, no_update
    tw = app_ctx.township
    try:
        done = apply_version(tw.engine, version_id, tw.gridset, viewer.name)
    except KeyError as err:
        return str(err), no_update, no_update
    tw.snapshot()  # this process takes the new grids now (the others at their next snapshot)
    versions = list_versions(tw.engine)
    return (t("admin_applied", lang).format(v=done.version_id, n=len(done.impact.cases)),
            ui.versions_table(versions, lang), ui.version_options(versions, lang))


def staff_upload(app_ctx: AppContext, contents: object, filename: str, accounts: bool, lang: str = "zh") -> tuple:
    """Import a roster: (the report text, with the first passwords of new sign-ins shown once; the users table and
    choices, which list those sign-ins)."""
    if not may_administer(current_viewer(app_ctx).role):
        return t("admin_refused", lang), no_update, no_update
    tw = app_ctx.township
    try:
        text = "\n".join(import_staff(tw.engine, tw.gridset, upload(contents) or b"", filename,
                                     accounts=accounts).lines())
    except UnreadableFile as err:
        text = f"{filename}: {err}"
    users = list_users(tw.engine)
    return text, ui.users_table(users, lang), ui.user_options(users)


def user_action(app_ctx: AppContext, action: str | None, form: dict, lang: str = "zh") -> tuple:
    """One action on users, tokens or phones: (users table, tokens table, devices table, user, token and device
    choices, message)."""
    if not may_administer(current_viewer(app_ctx).role):
        return no_update, no_update, no_update, no_update, no_update, no_update, t("admin_refused", lang)
    engine = app_ctx.township.engine
    users = {u.id: u for u in list_users(engine)}
    tokens = {k.id: k for k in list_tokens(engine)}
    devices = {d.id: d for d in list_devices(engine)}
    user, token = users.get(form.get("user") or -1), tokens.get(form.get("token") or -1)
    device = devices.get(form.get("device") or -1)
    try:
        if action == ids.ADMIN_USER_CREATE:
            role = form.get("role") or ""
            create_user(engine, form.get("username") or "", form.get("password") or "", role,
                        form.get("village") if role == "village" else None, form.get("display") or None)
            msg = t("admin_user_made", lang).format(u=form.get("username"))
        elif action in (ids.ADMIN_USER_DISABLE, ids.ADMIN_USER_ENABLE) and user is not None:
            set_active(engine, user.id, action == ids.ADMIN_USER_ENABLE)
            state = t("admin_on" if action == ids.ADMIN_USER_ENABLE else "admin_off", lang)
            msg = t("admin_user_state", lang).format(u=user.username, s=state)
        elif action == ids.ADMIN_USER_RESET and user is not None:
            msg = t("admin_new_password", lang).format(u=user.username, p=reset_password(engine, user.id))
        elif action == ids.ADMIN_TOKEN_REVOKE and token is not None:
            revoke_token(engine, token.id)
            msg = t("admin_revoked", lang).format(u=token.name)
        elif action == ids.ADMIN_DEVICE_REVOKE and device is not None:
            revoke_device(engine, device.id)
            msg = t("admin_device_revoked", lang).format(u=device.username)
        else:
            msg = t("admin_pick", lang)
    except (ValueError, KeyError) as err:
        msg = str(err)
    users_now, tokens_now, devices_now = list_users(engine), list_tokens(engine), list_devices(engine)
    return (ui.users_table(users_now, lang), ui.tokens_table(tokens_now, lang), ui.devices_table(devices_now, lang),
            ui.user_options(users_now), ui.token_options(tokens_now), ui.device_options(devices_now), msg)


def register(app: Dash, app_ctx: AppContext) -> None:
    """Register the admin page's callbacks."""

    @app.callback(
        Output(ids.ADMIN_GRID_MAP, "figure"), Output(ids.ADMIN_GRID_REPORT, "children"),
        Output(ids.ADMIN_GRID_DIFF, "children"), Output(ids.ADMIN_GRID_CANDIDATE, "data"),
        Output(ids.ADMIN_GRID_APPLY, "disabled"),
        Input(ids.ADMIN_GRID_UPLOAD, "contents"), State(ids.ADMIN_GRID_UPLOAD, "filename"),
        prevent_initial_call=True,
    )
    def on_grid_upload(contents, filename):
        return check_upload(app_ctx, contents, text_of(filename) or "grids.geojson")

    @app.callback(
        Output(ids.ADMIN_GRID_RESULT, "children"), Output(ids.ADMIN_VERSIONS, "children"),
        Output(ids.ADMIN_VERSION_PICK, "options"),
        Input(ids.ADMIN_GRID_APPLY, "n_clicks"), Input(ids.ADMIN_VERSION_RESTORE, "n_clicks"),
        State(ids.ADMIN_GRID_CANDIDATE, "data"), State(ids.ADMIN_VERSION_PICK, "value"),
        prevent_initial_call=True,
    )
    def on_apply(_apply, _restore, candidate, picked):
        return put_in_use(app_ctx, record_id(candidate if ctx.triggered_id == ids.ADMIN_GRID_APPLY else picked))

    @app.callback(
        Output(ids.ADMIN_STAFF_REPORT, "children"), Output(ids.ADMIN_USERS, "children", allow_duplicate=True),
        Output(ids.ADMIN_USER_PICK, "options", allow_duplicate=True),
        Input(ids.ADMIN_STAFF_UPLOAD, "contents"), State(ids.ADMIN_STAFF_UPLOAD, "filename"),
        State(ids.ADMIN_STAFF_ACCOUNTS, "value"),
        prevent_initial_call=True,
    )
    def on_staff_upload(contents, filename, accounts):
        return staff_upload(app_ctx, contents, text_of(filename) or "roster.csv",
                            isinstance(accounts, list) and "accounts" in accounts)

    @app.callback(
        Output(ids.ADMIN_USERS, "children"), Output(ids.ADMIN_TOKENS, "children"),
        Output(ids.ADMIN_DEVICES, "children"),
        Output(ids.ADMIN_USER_PICK, "options"), Output(ids.ADMIN_TOKEN_PICK, "options"),
        Output(ids.ADMIN_DEVICE_PICK, "options"), Output(ids.ADMIN_USERS_MSG, "children"),
        Input(ids.ADMIN_USER_CREATE, "n_clicks"), Input(ids.ADMIN_USER_DISABLE, "n_clicks"),
        Input(ids.ADMIN_USER_ENABLE, "n_clicks"), Input(ids.ADMIN_USER_RESET, "n_clicks"),
        Input(ids.ADMIN_TOKEN_REVOKE, "n_clicks"), Input(ids.ADMIN_DEVICE_REVOKE, "n_clicks"),
        State(ids.ADMIN_USER_NAME, "value"), State(ids.ADMIN_USER_DISPLAY, "value"),
        State(ids.ADMIN_USER_ROLE, "value"), State(ids.ADMIN_USER_VILLAGE, "value"),
        State(ids.ADMIN_USER_PASSWORD, "value"), State(ids.ADMIN_USER_PICK, "value"),
        State(ids.ADMIN_TOKEN_PICK, "value"), State(ids.ADMIN_DEVICE_PICK, "value"),
        prevent_initial_call=True,
    )
    def on_user_action(_c, _d, _e, _r, _v, _p, username, display, role, village, password, user, token, device):
        form = {"username": text_of(username), "display": text_of(display), "role": text_of(role),
                "village": text_of(village), "password": text_of(password), "user": record_id(user),
                "token": record_id(token), "device": record_id(device)}
        return user_action(app_ctx, ctx.triggered_id, form)
