"""The demo feed: a simulator that feeds the app through the same HTTP API a real source uses.

It stands in for the township's sources — hotline tickets (JSON), patrol
reports and sensor alarms (JSON), citizens' micro-wishes and requests
(Open311 form posts) and weather warnings (CAP 1.2 XML) — and moves some of
its own cases along the loop by re-sending them, at a pace of one event every
``mean_interval`` seconds on average. ``make run`` starts it; ``DEMO_FEED=0``
turns it off.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import shapely
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from township.accounts.tokens import create_token
from township.domain.vocab import WARNING_LEVELS, WARNING_TYPES
from township.grids.model import GridSet
from township.runtime.demo import TITLES, TYPE_DOMAINS
from township.store.models import ApiToken
from township.store.uow import session_scope

log = logging.getLogger(__name__)

CAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>qxj.ordos.demo</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>{event}</event>
    <urgency>Expected</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <effective>{sent}</effective>
    <expires>{expires}</expires>
    <senderName>准格尔旗气象台(示意)</senderName>
    <headline>{headline}</headline>
    <description>示意数据:演示预警</description>
    <area>
      <areaDesc>大路镇</areaDesc>
      <circle>{lat:.5f},{lon:.5f} {radius_km:.1f}</circle>
    </area>
  </info>
</alert>
"""

#: Weather the demo's CAP messages announce, with the severities they come in.
WEATHER: dict[str, tuple[str, ...]] = {
    "gale": ("Moderate", "Minor"),
    "sandstorm": ("Moderate", "Minor", "Severe"),
    "blizzard": ("Moderate", "Severe"),
    "road_icing": ("Minor", "Moderate"),
}
SEVERITY_LEVEL = {"Extreme": 1, "Severe": 2, "Moderate": 3, "Minor": 4}


def feed_token(engine: Engine) -> str:
    """A fresh write token for the feed; earlier feed tokens are dropped."""
    with session_scope(engine) as s:
        s.execute(delete(ApiToken).where(ApiToken.name.like("demo-feed%")))
    return create_token(engine, f"demo-feed-{random.randrange(16**6):06x}", "command")


class DemoFeed:
    """Sends one plausible event at a time to the app's API.

    Parameters
    ----------
    base_url : str
        The app, e.g. ``http://127.0.0.1:8050``.
    token : str
        A write token (see :func:`feed_token`).
    gridset : GridSet
        Where to put the events.
    seed : int, optional
        Random seed, for a repeatable run.
    """

    def __init__(self, base_url: str, token: str, gridset: GridSet, seed: int | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.gridset = gridset
        self.rng = random.Random(seed)
        self.sent: list[dict] = []  # the feed's own open cases, to move along
        self.count = 0
        self._grids = gridset.ids(level=3)
        self._weights = [max(gridset.props(g).get("population") or 1, 1) for g in self._grids]

    # -- the events --------------------------------------------------------

    def _point(self) -> tuple[float, float, str]:
        grid = self.rng.choices(self._grids, self._weights)[0]
        geom = self.gridset.geometry(grid)
        minx, miny, maxx, maxy = geom.bounds
        while True:
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if geom.contains(shapely.Point(x, y)):
                return round(x, 6), round(y, 6), grid

    def _case(self, ctype: str, source: str) -> dict:
        lon, lat, _grid = self._point()
        domains = TYPE_DOMAINS[ctype]
        domain = self.rng.choices(list(domains), list(domains.values()))[0]
        self.count += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return {"source": source, "external_id": f"FEED-{source}-{stamp}-{self.count:04d}", "type": ctype,
                "domain": domain, "title": self.rng.choice(TITLES[domain]), "lon": lon, "lat": lat,
                "description": "示意数据:演示数据源"}

    def hotline_ticket(self) -> str:
        case = self._case("hotline", "hotline")
        case["deadline_at"] = (datetime.now(UTC) + timedelta(days=5)).isoformat()
        return self._post_case(case)

    def patrol_report(self) -> str:
        return self._post_case(self._case(self.rng.choice(["hazard", "dispute", "proposal"]), "patrol"))

    def sensor_alarm(self) -> str:
        case = self._case("hazard", "sensor")
        case["domain"] = "safety"
        case["title"] = self.rng.choice(["燃气浓度超限", "河道水位超警戒", "地表位移监测报警"])
        return self._post_case(case)

    def citizen_request(self) -> str:
        """A micro-wish or a convenience request, as an Open311 form post."""
        lon, lat, _grid = self._point()
        code = self.rng.choice(["wish", "service"])
        domain = "livelihood"
        form = {"api_key": self.token, "service_code": code, "lat": lat, "long": lon,
                "description": self.rng.choice(TITLES[domain]), "attribute[domain]": domain}
        self._send("/open311/v2/requests.json", urllib.parse.urlencode(form).encode(),
                   "application/x-www-form-urlencoded")
        return f"open311 {code}"

    def weather_warning(self) -> str:
        wtype = self.rng.choice(list(WEATHER))
        severity = self.rng.choice(WEATHER[wtype])
        lon, lat, _grid = self._point()
        now = datetime.now(UTC).replace(microsecond=0)
        self.count += 1
        level = WARNING_LEVELS[SEVERITY_LEVEL[severity]]["zh"]
        event = WARNING_TYPES[wtype]["zh"]
        xml = CAP_TEMPLATE.format(
            identifier=f"DEMO-CAP-{now:%Y%m%d%H%M%S}-{self.count}", sent=now.isoformat(),
            expires=(now + timedelta(hours=12)).isoformat(), event=event, severity=severity,
            headline=f"{event}{level}预警(示意)", lat=lat, lon=lon, radius_km=self.rng.uniform(2, 8),
        )
        self._send("/api/v1/warnings/cap", xml.encode(), "application/cap+xml")
        return f"cap {wtype} {severity}"

    def progress(self) -> str:
        """Move one of the feed's own cases a step along the loop (re-sent: an update, not a new case)."""
        steps = ["dispatched", "accepted", "in_progress", "resolved", "closed"]
        case = self.rng.choice(self.sent)
        case["status"] = steps[steps.index(case.get("status", "reported")) + 1] \
            if case.get("status", "reported") in steps[:-1] else "dispatched"
        if case["status"] == "closed":
            self.sent.remove(case)
        self._send("/api/v1/cases", json.dumps(case).encode(), "application/json")
        return f"progress {case['external_id']} → {case['status']}"

    # -- plumbing ----------------------------------------------------------

    def _post_case(self, case: dict) -> str:
        self._send("/api/v1/cases", json.dumps(case).encode(), "application/json")
        self.sent.append(case)
        return f"{case['source']} {case['type']}"

    def _send(self, path: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(self.base_url + path, data=body, method="POST", headers={
            "Content-Type": content_type, "Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def step(self) -> str:
        """Send one event, chosen with the mix of a township's day; returns what was sent."""
        events: list[tuple[Callable[[], str], float]] = [
            (self.hotline_ticket, 3), (self.patrol_report, 3), (self.citizen_request, 2),
            (self.sensor_alarm, 1), (self.weather_warning, 0.3), (self.progress, 4 if self.sent else 0),
        ]
        action = self.rng.choices([e for e, _ in events], [w for _, w in events])[0]
        return action()

    def run(self, stop: threading.Event, mean_interval: float = 30.0) -> None:
        """Send events until ``stop`` is set; a refused or failed send is logged and the feed goes on."""
        while not stop.wait(self.rng.expovariate(1 / mean_interval)):
            try:
                log.info("demo feed: %s", self.step())
            except (urllib.error.URLError, OSError, ValueError) as err:
                log.warning("demo feed: send failed: %s", err)
