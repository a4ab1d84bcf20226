"""Sign-in: who is looking, for every page renderer and every callback.

- ``/login``: a small HTML form (GET) and the password check (POST);
  ``/logout`` ends the session. Plain Flask routes, no Dash: the form must
  work before any script has loaded.
- The session is Flask's signed cookie (``township_session``: HttpOnly,
  SameSite=Lax, 12 hours) holding the user's id only; the key is
  `township.config.session_secret` (``SECRET_KEY`` or a file under ``var/``
  shared by every process).
- :func:`current_viewer` is the one answer to "who is this": the signed-in
  user, else the ``DEFAULT_ROLE`` viewer (kiosk, demo, tests), else
  :data:`ANONYMOUS`, who sees what the wall sees and may do nothing.
- The gate: a page request from someone not signed in is redirected to
  ``/login`` unless ``DEFAULT_ROLE`` is set. The wall (``/wall``), the API
  (``/api/``, ``/open311/``, which have their tokens), the static assets and
  Dash's own routes pass; Dash callbacks then run as :data:`ANONYMOUS`.
- The throttle: after ``LOGIN_USER_FAILURES`` wrong passwords for a username,
  or ``LOGIN_ADDRESS_FAILURES`` from one address, within ``LOGIN_WINDOW_S``,
  ``/login`` answers 429 with ``Retry-After`` — to the right password too —
  until the window has passed (`township.accounts.throttle`); every failure
  and refusal is logged.
- The web surface (proxies, ``Secure`` cookie, cross-site refusals, security
  headers) is `auth.surface`'s.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from html import escape
from urllib.parse import urlencode, urlsplit

from dash import Dash
from flask import Blueprint, Response, g, has_request_context, redirect, request, session
from sqlalchemy.orm import Session

from auth import surface
from township.accounts.throttle import Limit, address_key, forget, record_failure, retry_after, user_key
from township.accounts.users import DEMO_USERS, check_password
from township.config import session_secret
from township.domain.policy import ANONYMOUS_ROLE
from township.domain.vocab import ROLES
from township.loop.workflow import Actor
from township.runtime.bootstrap import AppContext
from township.store.models import User

__all__ = ["ANONYMOUS", "attempt_sign_in", "current_viewer", "install", "sign_in_table"]

log = logging.getLogger(__name__)

#: Who someone not signed in is when no ``DEFAULT_ROLE`` is set: the wall's masked, read-only view.
ANONYMOUS = Actor("未登录", ANONYMOUS_ROLE)
#: The session key holding the signed-in user's id.
SESSION_KEY = "uid"
COOKIE = "township_session"
LIFETIME = timedelta(hours=12)
#: Paths that need no sign-in: the wall, the API (tokens), the form itself, assets and Dash's routes.
OPEN_PREFIXES = ("/login", "/logout", "/wall/", "/api/", "/open311/", "/_dash-", "/assets/", "/_favicon",
                 "/_reload-hash")
#: The field app's paths: it signs its phones in itself (device sessions, `field`).
FIELD_PATHS = ("/m", "/m/")


def _user_actor(app_ctx: AppContext, uid: object) -> Actor | None:
    """The actor of an active user id, or ``None`` (deleted or deactivated since sign-in)."""
    if not isinstance(uid, int):
        return None
    with Session(app_ctx.township.engine) as s:
        user = s.get(User, uid)
    return Actor.of_user(user) if user is not None and user.active else None


def _uid_from_cookie() -> object:
    """The user id in the session cookie of a background callback (no request: Dash kept the cookies)."""
    from dash import callback_context, get_app

    try:
        cookie = callback_context.cookies.get(COOKIE)
        server = get_app().server
    except Exception:  # noqa: BLE001 - not inside a Dash callback at all
        return None
    signer = server.session_interface.get_signing_serializer(server)
    if not cookie or signer is None:
        return None
    try:
        return signer.loads(cookie, max_age=int(LIFETIME.total_seconds())).get(SESSION_KEY)
    except Exception:  # noqa: BLE001 - a bad or expired signature is simply no sign-in
        return None


def signed_in(app_ctx: AppContext) -> Actor | None:
    """The signed-in user of this request (or background callback), or ``None``."""
    if has_request_context():
        if "viewer" not in g:
            g.viewer = _user_actor(app_ctx, session.get(SESSION_KEY))
        return g.viewer
    return _user_actor(app_ctx, _uid_from_cookie())


def default_viewer(app_ctx: AppContext) -> Actor | None:
    """The ``DEFAULT_ROLE`` viewer (kiosk, demo, tests), or ``None`` when sign-in is required."""
    s = app_ctx.settings
    if not s.role:
        return None
    return Actor(f"{ROLES[s.role]['zh']}(免登录)", s.role, s.default_village if s.role == "village" else None)


def current_viewer(app_ctx: AppContext) -> Actor:
    """Who is looking: the signed-in user, else the ``DEFAULT_ROLE`` viewer, else :data:`ANONYMOUS`.

    Every page renderer and callback asks this, never the settings: the
    answer decides the village a view is clamped to, what is masked, and
    which moves the case card offers. Outside any request (a test calling a
    renderer directly) it is the ``DEFAULT_ROLE`` viewer or :data:`ANONYMOUS`.
    """
    return signed_in(app_ctx) or default_viewer(app_ctx) or ANONYMOUS


def _safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: an open redirect would make the form a phishing tool.

    Browsers drop tabs and line breaks from a URL (``/\\t/evil.com`` is
    ``//evil.com``, another host) and read ``\\`` as ``/``, so a target with
    any control character or backslash is refused, as is one with a scheme
    or a host; a line break would also split the ``Location`` header.
    """
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def _is_open(path: str) -> bool:
    return path in ("/wall", FIELD_PATHS[0]) or path.startswith((*OPEN_PREFIXES, FIELD_PATHS[1]))


FORM = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 大路镇智慧乡镇</title>
<style>
body {{ margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; background: #f5f6f3; }}
header {{ background: #b71c1c; color: #fff; padding: 12px 18px; font-size: 20px; font-weight: 700; }}
form {{ max-width: 340px; margin: 60px auto; background: #fff; padding: 24px 28px; border-radius: 8px;
       box-shadow: 0 1px 3px #0003; }}
label {{ display: block; margin: 12px 0 4px; color: #37474f; font-weight: 600; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 8px; font-size: 16px; }}
button {{ margin-top: 18px; width: 100%; padding: 10px; font-size: 16px; border: 0; border-radius: 4px;
         background: #455a64; color: #fff; cursor: pointer; }}
.error {{ color: #c62828; font-weight: 600; }}
.hint {{ color: #78909c; font-size: 13px; margin-top: 14px; }}
</style></head>
<body><header>大路镇智慧乡镇 · 一点指挥</header>
<form method="post" action="/login" id="login-form">
<h2>登录</h2>
{message}
<label for="login-username">用户名</label>
<input type="text" name="username" id="login-username" value="{username}" autocomplete="username" required autofocus>
<label for="login-password">密码</label>
<input type="password" name="password" id="login-password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">登录</button>
<p class="hint">{who}指挥大屏无需登录:<a href="/wall">/wall</a></p>
</form></body></html>
"""


def _form(message: str = "", username: str = "", next_: str = "/", who: str = "", status: int = 200) -> Response:
    text = FORM.format(message=f'<p class="error" id="login-error">{escape(message)}</p>' if message else "",
                       username=escape(username), next=escape(next_), who=escape(who))
    resp = Response(text, status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def attempt_sign_in(app_ctx: AppContext, username: str, password: str) -> tuple[User | None, int]:
    """Check a password behind the throttle: ``(user, 0)``, ``(None, 0)`` for a wrong one (counted and logged),
    or ``(None, seconds to wait)`` while the username or the client address is throttled.

    The one check of ``/login`` and the field app's ``/m/login`` (`field`).
    """
    engine, s = app_ctx.township.engine, app_ctx.settings
    address = request.remote_addr
    limits = [Limit(user_key(username), s.login_user_failures, s.login_window_s),
              Limit(address_key(address), s.login_address_failures, s.login_window_s)]
    wait = retry_after(engine, limits)
    if wait:
        log.warning("sign-in refused, too many failures: user %r from %s, %d s to wait", username, address, wait)
        return None, wait
    user = check_password(engine, username, password)
    if user is None:
        record_failure(engine, [lim.key for lim in limits], keep_s=s.login_window_s)
        log.warning("sign-in failed: user %r from %s", username, address)
        return None, 0
    forget(engine, user_key(username))
    return user, 0


def make_blueprint(app_ctx: AppContext) -> Blueprint:
    """``/login``, ``/logout`` and the gate in front of every page."""
    bp = Blueprint("auth", __name__)

    @bp.before_app_request
    def _gate():
        if _is_open(request.path) or signed_in(app_ctx) or default_viewer(app_ctx):
            return None
        if request.method in ("GET", "HEAD"):
            return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))
        return Response("请先登录 · sign in first: /login", 401, mimetype="text/plain")

    @bp.get("/login")
    def login_form():
        me = signed_in(app_ctx)
        who = f"当前已登录:{me.name}({ROLES[me.role]['zh']})。" if me else ""
        return _form(next_=_safe_next(request.args.get("next")), who=who)

    @bp.post("/login")
    def login():
        username = request.form.get("username", "").strip()
        next_ = _safe_next(request.form.get("next"))
        user, wait = attempt_sign_in(app_ctx, username, request.form.get("password", ""))
        if wait:
            resp = _form(f"密码错误次数过多,请 {wait} 秒后再试 · too many wrong passwords: try again in {wait} s",
                         username, next_, status=429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        if user is None:
            return _form("用户名或密码错误 · wrong username or password", username, next_, status=401)
        session.clear()
        session[SESSION_KEY] = user.id
        session.permanent = True
        return redirect(next_)

    @bp.route("/logout", methods=["GET", "POST"])
    def logout():
        session.clear()
        return redirect("/login")

    return bp


def install(app: Dash, app_ctx: AppContext) -> None:
    """Sign the session cookie, register ``/login`` and ``/logout``, put the gate in front of the pages and the
    web surface (`auth.surface`) around them."""
    server = app.server
    server.secret_key = session_secret(app_ctx.settings)
    server.config.update(SESSION_COOKIE_NAME=COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         PERMANENT_SESSION_LIFETIME=LIFETIME)
    surface.install(app, app_ctx.settings)
    server.register_blueprint(make_blueprint(app_ctx))


def sign_in_table(app_ctx: AppContext) -> str:
    """The demo users whose demo password still works, as a table to print at start ('' if none)."""
    engine = app_ctx.township.engine
    rows = [(u, p, r, v or h or "") for u, p, r, v, _name, h in DEMO_USERS if check_password(engine, u, p)]
    if not rows:
        return ""
    lines = [f"{'username':<10}  {'password':<16}  {'role':<9}  village / handler", *(
        f"{u:<10}  {p:<16}  {r:<9}  {v}" for u, p, r, v in rows)]
    return "\n".join(lines)
