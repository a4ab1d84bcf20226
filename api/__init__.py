"""The HTTP API: a Flask blueprint on the Dash server, the only code that touches Flask requests.

``/api/v1`` (JSON, GeoJSON, CAP 1.2), ``/open311/v2`` (Open311 GeoReport v2,
JSON or XML) and ``/api/openapi.json``. Views are thin: they read the
request, call the core (`township.read.api`, `township.formats.ingest`, `township.formats.cap_store`,
`township.formats.open311`, `township.formats.cap`) and answer through `api.http.respond`;
every failure goes through `api.http.error_response`.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from township.loop.photos import PhotoRules
from township.runtime.bootstrap import AppContext

from . import analysis, evacuation, notifications, open311, photos, v1
from .http import MAX_BODY, ApiError, error_response, respond
from .openapi import openapi_document

__all__ = ["make_blueprint"]

#: Every method the catch-all answers (with 404, or 405 and the methods that exist): all but
#: OPTIONS, which `_limit_body` answers, and HEAD, which Flask derives from GET.
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY", "CONNECT"]


def make_blueprint(ctx: AppContext) -> Blueprint:
    """The API blueprint over ``ctx``; register it on the Dash app's Flask server."""
    bp = Blueprint("api", __name__)
    # Endpoints whose bodies may be larger than MAX_BODY: a photo upload carries several photos.
    body_limits = {"api.case_photos_post": photos.upload_limit(PhotoRules.of(ctx.settings))}

    def allowed_methods() -> list[str]:
        """The methods a route of ours answers at this URL (the catch-all below does not count)."""
        adapter = current_app.url_map.bind_to_environ(request.environ)
        allowed = []
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(request.path, method=method)
            except (NotFound, MethodNotAllowed):
                continue
            if endpoint != "api.not_found":
                allowed.append(method)
        return allowed

    def allow_header(allowed: list[str]) -> str:
        # HEAD comes with every GET (Flask), OPTIONS with every route (answered below).
        return ", ".join([*allowed, *(["HEAD"] if "GET" in allowed else []), "OPTIONS"])

    @bp.before_request
    def _limit_body() -> Response | None:
        # Per request, not app-wide: the dashboard's own uploads set their own limits.
        limit = g.body_limit = body_limits.get(request.endpoint or "", MAX_BODY)
        request.max_content_length = limit
        if request.content_length is None and "wsgi.input_terminated" in request.environ:
            # A chunked body has no length to refuse up front, and Werkzeug's limited stream ends
            # quietly at the limit: the body would be cut there and parsed. Read one byte past the
            # limit and keep the body (later reads, the form's too, use the kept copy).
            request.max_content_length = limit + 1
            if len(request.get_data(cache=True)) > limit:
                raise RequestEntityTooLarge()
        if request.method == "OPTIONS":
            # Flask's own answer would list the catch-all's methods too, which no route here serves.
            allowed = allowed_methods()
            if not allowed:
                raise ApiError(404, [f"no such endpoint: {request.path}"])
            return Response(status=204, headers={"Allow": allow_header(allowed)})
        return None

    bp.register_error_handler(Exception, error_response)

    @bp.app_errorhandler(NotFound)
    def _unrouted(exc: NotFound):
        # A URL even the catch-all does not match (a newline in it) never reaches the blueprint:
        # under our prefixes it still gets the API's error format, elsewhere Flask's own page.
        return error_response(exc) if request.path.startswith(("/api/", "/open311/")) else exc

    v1.register(bp, ctx)
    photos.register(bp, ctx)
    open311.register(bp, ctx)
    notifications.register(bp, ctx)
    analysis.register(bp, ctx)
    evacuation.register(bp, ctx)
    document = openapi_document()

    @bp.get("/api/openapi.json")
    def openapi():
        return respond(document)

    @bp.route("/api/<path:rest>", methods=ANY_METHOD)
    @bp.route("/open311/<path:rest>", methods=ANY_METHOD)
    def not_found(rest: str):
        # Without this, Dash's catch-all page would answer unknown API URLs with HTML, and
        # Werkzeug would answer a method no route has (TRACE) with the catch-all's methods in Allow.
        allowed = allowed_methods()
        if allowed:
            raise ApiError(405, [f"{request.method} not allowed here; use {', '.join(allowed)}"],
                           {"Allow": allow_header(allowed)})
        hint = " (formats: .json, .xml)" if request.path.startswith("/open311/") else ""
        raise ApiError(404, [f"no such endpoint: {request.path}{hint}"])

    return bp
