"""The HTTP API: a Flask blueprint on the Dash server, the only code that touches Flask requests.

``/api/v1`` (JSON, GeoJSON, CAP 1.2), ``/open311/v2`` (Open311 GeoReport v2,
JSON or XML) and ``/api/openapi.json``. Views are thin: they read the
request, call the core (`township.read.api`, `township.formats.ingest`, `township.formats.cap_store`,
`township.formats.open311`, `township.formats.cap`) and answer through `api.http.respond`;
every failure goes through `api.http.error_response`.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from township.runtime.bootstrap import AppContext

from . import open311, v1
from .http import MAX_BODY, ApiError, error_response, respond
from .openapi import openapi_document

__all__ = ["make_blueprint"]


def make_blueprint(ctx: AppContext) -> Blueprint:
    """The API blueprint over ``ctx``; register it on the Dash app's Flask server."""
    bp = Blueprint("api", __name__)

    @bp.before_request
    def _limit_body() -> None:
        # Per request, not app-wide: the dashboard's own uploads set their own limits.
        request.max_content_length = MAX_BODY
        if request.content_length is None and "wsgi.input_terminated" in request.environ:
            # A chunked body has no length to refuse up front, and Werkzeug's limited stream ends
            # quietly at the limit: the body would be cut there and parsed. Read one byte past the
            # limit and keep the body (later reads, the form's too, use the kept copy).
            request.max_content_length = MAX_BODY + 1
            if len(request.get_data(cache=True)) > MAX_BODY:
                raise RequestEntityTooLarge()

    bp.register_error_handler(Exception, error_response)

    v1.register(bp, ctx)
    open311.register(bp, ctx)
    document = openapi_document()

    @bp.get("/api/openapi.json")
    def openapi():
        return respond(document)

    @bp.route("/api/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @bp.route("/open311/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_found(rest: str):
        # Without this, Dash's catch-all page would answer unknown API URLs with HTML.
        adapter = current_app.url_map.bind_to_environ(request.environ)
        allowed = []
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(request.path, method=method)
            except (NotFound, MethodNotAllowed):
                continue
            if endpoint != request.endpoint:
                allowed.append(method)
        if allowed:
            raise ApiError(405, [f"{request.method} not allowed here; use {', '.join(allowed)}"],
                           {"Allow": ", ".join(allowed)})
        hint = " (formats: .json, .xml)" if request.path.startswith("/open311/") else ""
        raise ApiError(404, [f"no such endpoint: {request.path}{hint}"])

    return bp
