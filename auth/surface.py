"""The web surface every response shares: proxies, the cookie's ``Secure``, cross-site refusals, security headers.

- Behind ``TRUSTED_PROXIES`` reverse proxies, werkzeug's ``ProxyFix`` believes
  their ``X-Forwarded-For``/``-Proto``/``-Host`` for that many hops (and no
  one else's): the client address the sign-in throttle counts, and whether
  the browser came over HTTPS.
- The session cookie is ``Secure`` exactly when the request came over HTTPS.
- A state-changing request (anything but GET/HEAD/OPTIONS) that a browser
  made from another site is refused (403): ``Sec-Fetch-Site`` says so, or,
  from a browser too old to send it, an ``Origin`` of another host. Sign-in,
  Dash's callbacks (the moves of cases and warnings, uploads) and sign-out are
  all such requests; the API and Open311 are not cookie-authenticated
  (bearer tokens, API keys) and are left to their own checks.
- Every response carries a Content-Security-Policy the pages satisfy
  (scripts from this site and Dash's inline scripts by hash only), may not be
  framed (the wall: by ``WALL_FRAME_ANCESTORS``), ``X-Content-Type-Options``
  and ``Referrer-Policy``.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from dash import Dash
from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from township.config import Settings

#: Methods that change nothing: a cross-site GET (a link) is how the web works.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Token-authenticated routes: a browser's cookies give a cross-site request nothing there.
TOKEN_PREFIXES = ("/api/", "/open311/")
#: ``Sec-Fetch-Site`` values of a request the page itself (or the user typing a URL) made.
OWN_SITE = frozenset({"same-origin", "none"})


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed session cookie, ``Secure`` whenever the request came over HTTPS (after ProxyFix)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def cross_site(req: Request) -> bool:
    """Whether a browser sent ``req`` from a page of another origin (no such header: not a browser's page)."""
    site = req.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in OWN_SITE
    origin = req.headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != req.host.lower()


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def content_security_policy(script_hashes: list[str], frame_ancestors: str, tile_url: str | None) -> str:
    """The CSP of a response: this site's scripts and Dash's inline ones, nothing from outside but the tiles.

    Styles may be inline: plotly.js and MapLibre set element styles and add
    ``<style>`` rules at run time (they cannot carry a hash). MapLibre runs its
    workers from ``blob:`` URLs and draws from ``data:``/``blob:`` images.
    """
    tiles = _origin(tile_url)
    outside = f" {tiles}" if tiles else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{outside}",
        "font-src 'self' data:",
        f"connect-src 'self'{outside}",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def _is_wall(path: str) -> bool:
    return path == "/wall" or path.startswith("/wall/")


def install(app: Dash, settings: Settings) -> None:
    """Put the proxy fix, the cookie's ``Secure``, the cross-site refusal and the headers on ``app``'s server."""
    server = app.server
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    server.session_interface = SessionCookie()
    policies: dict[bool, str] = {}  # wall or not → CSP, made on first use: every callback is registered by then

    def policy(wall: bool) -> str:
        if wall not in policies:
            ancestors = settings.wall_frame_ancestors if wall else "'none'"
            policies[wall] = content_security_policy(list(app.csp_hashes()), ancestors, settings.tile_url)
        return policies[wall]

    @server.before_request
    def _refuse_cross_site():
        if request.method in SAFE_METHODS or request.path.startswith(TOKEN_PREFIXES) or not cross_site(request):
            return None
        return Response("跨站请求已拒绝 · cross-site request refused: send it from this site's own pages", 403,
                        mimetype="text/plain")

    @server.after_request
    def _headers(response: Response) -> Response:
        wall = _is_wall(request.path)
        response.headers["Content-Security-Policy"] = policy(wall)
        if not wall or settings.wall_frame_ancestors == "'none'":
            # For browsers without CSP frame-ancestors; it cannot name a list, so a framed wall goes without.
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
