"""The partial plotly.js bundle the pages load (assets/vendor/plotly/, built by scripts/plotly-bundle/).

It must be the plotly.js of the installed plotly package, hold every trace
type the pages draw, and be what the browser uses: no request for Dash's full
plotly.min.js, the bundle compressed and cacheable. The dashboard also must run
no CSS animation once drawn (assets/alert-flash.js says why).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs_version
from test_browser import GRAPH, open_map

import app as app_module

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = app_module.PLOTLY_BUNDLE
FULL = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"
TRACE_MODULE = re.compile(rb'moduleType:"trace",name:"(\w+)"')
#: Where figures are built: Python figure dicts, and the pages' own scripts.
SOURCES = [*ROOT.glob("layers/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("callbacks/*.py"), *ROOT.glob("assets/*.js")]


def trace_types(path: Path) -> set[str]:
    return set(m.decode() for m in TRACE_MODULE.findall(path.read_bytes()))


def used_trace_types() -> set[str]:
    """Every ``"type": "<trace type>"`` in the sources that names one of plotly.js's trace types."""
    known = trace_types(FULL)
    found: set[str] = set()
    for path in SOURCES:
        found |= set(re.findall(r"""["']?type["']?\s*[:=]\s*["'](\w+)["']""", path.read_text(encoding="utf-8")))
    return found & known


def test_bundle_is_the_installed_plotly_js():
    head = BUNDLE.read_text(encoding="utf-8")[:300]
    version = re.search(r"plotly\.js v(\S+)", head)[1]
    pinned = json.loads((ROOT / "scripts" / "plotly-bundle" / "package.json").read_text())["devDependencies"]
    assert version == get_plotlyjs_version() == pinned["plotly.js"], (
        "plotly was upgraded: set plotly.js in scripts/plotly-bundle/package.json to "
        f"{get_plotlyjs_version()} and run `make plotly-bundle`")


def test_bundle_has_every_trace_type_the_pages_draw():
    used = used_trace_types()
    assert {"choroplethmap", "scattermap", "bar", "scatter"} <= used  # the scan finds what we know is there
    missing = used - trace_types(BUNDLE)
    assert not missing, f"add {sorted(missing)} to scripts/plotly-bundle/entry.js and run `make plotly-bundle`"


def test_bundle_is_smaller_than_the_full_plotly_js():
    assert BUNDLE.stat().st_size < 0.7 * FULL.stat().st_size


@pytest.mark.parametrize("path", ["/"])
def test_the_page_draws_with_the_bundle_only(server, page, path):
    responses = []
    page.on("response", lambda r: responses.append(r))
    open_map(page, server.url + path)
    assert page.evaluate("() => Plotly.version") == get_plotlyjs_version()
    assert not [u for u in page.requests if "package_data/plotly" in u], "Dash's full plotly.min.js was fetched"
    bundle = [r for r in responses if "/assets/vendor/plotly/" in r.url]
    assert len(bundle) == 1 and bundle[0].ok
    headers = bundle[0].all_headers()
    assert headers.get("content-encoding") in ("zstd", "br", "gzip")
    assert "max-age=31536000" in headers.get("cache-control", "") and "immutable" in headers["cache-control"]
    # Nothing animates once drawn: a CSS animation keeps a software-rendering browser compositing.
    assert page.evaluate("() => document.getAnimations().filter(a => a.playState === 'running').length") == 0



def test_the_page_runs_on_the_regenerator_runtime_without_babels_polyfill(server, page):
    # Dash's lazily loaded chunks need the global regeneratorRuntime, not the rest of @babel/polyfill
    # (app.py replace_polyfill); the map's own chunks come with the page's scripts (app.py defer_scripts).
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_map(page, server.url + "/")
    assert page.evaluate("() => typeof regeneratorRuntime.mark") == "function"
    assert not [u for u in page.requests if "polyfill" in u], "Dash's @babel/polyfill was fetched"
    scripts = page.evaluate("() => [...document.scripts].map(s => s.src)")
    assert [u for u in scripts if "/vendor/regenerator/" in u]
    for chunk in app_module.MAP_CHUNKS:
        name = chunk.rsplit("/", 1)[1].removesuffix(".js")
        assert [u for u in scripts if f"/{name}." in u], f"{chunk} is not among the page's scripts"
    # a chunk still loaded lazily (the file import's, when its tab opens) comes, and its loader finds the runtime
    page.locator("#desk-tab label").nth(1).click()
    page.wait_for_function("() => [...performance.getEntriesByType('resource')].some(r => r.name.includes("
                           "'async-upload'))", timeout=30000)
    page.wait_for_timeout(500)
    assert errors == []


def test_the_alert_banner_still_flashes(server, page):
    # A banner of its own: whether the demo's red warning is still unacknowledged depends on the other tests.
    page.goto(server.url + "/")
    page.wait_for_selector(GRAPH, timeout=30000)
    seen = page.evaluate("""() => new Promise(done => {
        const el = document.createElement('div');
        el.className = 'alert';
        el.textContent = 'test';
        document.body.appendChild(el);
        const colours = new Set();
        const t = setInterval(() => colours.add(getComputedStyle(el).backgroundColor), 100);
        setTimeout(() => { clearInterval(t); el.remove(); done([...colours]); }, 3000);
    })""")
    assert sorted(seen) == ["rgb(183, 28, 28)", "rgb(229, 57, 53)"], seen


def test_the_page_comes_brotli_compressed_and_a_filter_change_does_not(server):
    """The page callback's answer (the whole page with its map, once per load) is brotli at PAGE_BR_QUALITY, as
    Chromium takes it; the callbacks that follow keep Flask-Compress's faster encodings."""
    import brotli
    import requests

    asks = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    session = requests.Session()
    session.get(server.url + "/", timeout=30)
    page = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/"},
                       {"id": "url", "property": "search", "value": ""}],
            "changedPropIds": ["url.pathname", "url.search"]}
    r = session.post(server.url + "/_dash-update-component", json=page, headers=asks, stream=True, timeout=60)
    body = r.raw.read()
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "br"
    answer = json.loads(brotli.decompress(body))
    assert answer["response"]["page"]["children"]
    assert len(body) == int(r.headers["Content-Length"])
    # a callback of the page afterwards: Flask-Compress's zstd, as Chromium asks
    export = {"output": "..export-csv.href...export-xlsx.href...export-geojson.href...export-report.href..",
              "outputs": [{"id": f"export-{k}", "property": "href"} for k in ("csv", "xlsx", "geojson", "report")],
              "inputs": [{"id": "state-query", "property": "data", "value": "?window=all" + "&level=2" * 200}],
              "changedPropIds": ["state-query.data"]}
    r = session.post(server.url + "/_dash-update-component", json=export, headers=asks, timeout=60)
    assert r.status_code == 200 and r.headers.get("Content-Encoding") == "zstd"
