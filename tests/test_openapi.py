"""The OpenAPI document holds the server to it: schemathesis fuzzes every route of a real server, per role.

Schemathesis (its command line, as a developer runs it) reads ``/api/openapi.json``
and sends generated requests, valid and invalid, to a live app on its own store,
once with a token of each role and once without. A run passes only with 0
server errors and 0 mismatches between the answers and the document: statuses,
content types, bodies, ``Allow`` on OPTIONS and 405, methods the document does
not list. Bounded (examples per route, one worker) to about a minute and a half in all.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LiveServer

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
#: Every check but positive_data_acceptance, which wants every schema-valid request to succeed: rules a
#: JSON Schema cannot state (a point inside the town, a CAP alert inside an XML string, a village token's
#: own village) refuse such requests by design, with a documented 4xx that the other checks hold to the document.
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
#: Who asks: None is no token (the wall's masked reads; writes 401).
ROLES = ["command", "admin", "village", "responder", "wall", None]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, stores) -> LiveServer:
    """An app of its own (demo year seeded, no feed) with a token of each role, so fuzzing touches no other test."""
    from township.accounts.tokens import create_token
    from township.store.engine import make_engine

    srv = LiveServer(tmp_path_factory.mktemp("openapi"), {"DEMO_FEED": "0"}, stores.new("openapi")).start()
    engine = make_engine(srv.database_url)
    srv.tokens = {  # type: ignore[attr-defined]
        "command": create_token(engine, "fuzz-command", "command"),
        "admin": create_token(engine, "fuzz-admin", "admin"),
        "village": create_token(engine, "fuzz-village", "village", "DL-03"),
        "responder": create_token(engine, "fuzz-responder", "responder", handler_id="H-OF-DL-01-01"),
        "wall": create_token(engine, "fuzz-wall", "wall"),
    }
    engine.dispose()
    yield srv
    srv.stop()


@pytest.mark.parametrize("role", ROLES, ids=[r or "no-token" for r in ROLES])
def test_the_server_answers_as_its_openapi_document_says(fuzzed, role, tmp_path):
    # The coverage phase (every method, every documented status, boundary and invalid values) does
    # not depend on the token much and takes half a minute: once, with the command token.
    phases = "coverage,fuzzing,stateful" if role == "command" else "fuzzing,stateful"
    report = tmp_path / "report.json"
    argv = [SCHEMATHESIS, "run", f"{fuzzed.url}/api/openapi.json", *CHECKS, "--phases", phases,
            "--max-examples", "5", "--seed", "311", "--workers", "1", "--no-shrink", "--request-timeout", "30",
            "--report", "json", "--report-json-path", str(report)]
    if role:
        argv += ["--header", f"Authorization: Bearer {fuzzed.tokens[role]}"]
    # cwd: schemathesis keeps a cache of crashes (.schemathesis/) where it runs; not in the project.
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    said = done.stdout[-6000:]
    assert result["failures"] == [] and result["errors"] == [], said
    assert result["operations"]["tested"] == result["operations"]["total"] >= 21, said
    assert result["test_cases"]["generated"] > 0 and result["exit_code"] == 0, said


def test_allow_lists_only_the_methods_a_url_has(fuzzed):
    import requests

    cases = [("/api/v1/cases/1/events", "GET, HEAD, OPTIONS"), ("/api/v1/cases", "GET, POST, HEAD, OPTIONS"),
             ("/api/v1/cases/1/dispatch", "POST, OPTIONS"), ("/open311/v2/requests.xml", "GET, POST, HEAD, OPTIONS")]
    for path, allow in cases:
        r = requests.options(fuzzed.url + path, timeout=10)
        assert (r.status_code, r.headers.get("Allow")) == (204, allow), path
        for method in ("PUT", "DELETE", "TRACE", *(["POST"] if "POST" not in allow else [])):
            r = requests.request(method, fuzzed.url + path, timeout=10)
            assert (r.status_code, r.headers.get("Allow")) == (405, allow), (method, path)
    assert requests.options(fuzzed.url + "/api/v1/nothing", timeout=10).status_code == 404
    r = requests.get(fuzzed.url + "/open311/v2/requests/1.%0Ajson", timeout=10)
    assert r.status_code == 404 and r.json()[0]["code"] == 404, "unrouted URLs answer in the API format"
