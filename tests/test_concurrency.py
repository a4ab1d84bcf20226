"""Many writers at once: two app processes on one store (SQLite file or PostgreSQL), many client threads each."""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import LiveServer
from sqlalchemy import text

from township.accounts.tokens import create_token
from township.config import BUNDLED_GRIDS
from township.grids.validate import load_grid_file
from township.store.engine import make_engine

THREADS = 8
PER_THREAD = 10
SHARED = 6  # ids every thread sends too
pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, stores):
    """Two app processes on the same empty store (no demo data), as behind a load balancer."""
    tmp = tmp_path_factory.mktemp("concurrent")
    url = stores.new("concurrent")
    first = LiveServer(tmp, {"SEED_DEMO": "0", "DEMO_FEED": "0"}, url).start()
    second = LiveServer(tmp, {"SEED_DEMO": "0", "DEMO_FEED": "0"}, url)
    second.log = tmp / "server2.log"
    second.start()
    engine = make_engine(url)
    token = create_token(engine, "load-test", "command")
    yield first, second, engine, token
    second.stop()
    first.stop()
    engine.dispose()


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(two_servers):
    first, second, engine, token = two_servers
    grids = load_grid_file(BUNDLED_GRIDS)
    leaves = grids.ids(level=3)
    points = [grids.geometry(g).representative_point() for g in leaves]

    def case(ext: str, n: int) -> dict:
        p = points[n % len(points)]
        return {"source": "hotline", "external_id": ext, "type": "hotline", "domain": "livelihood",
                "title": f"工单 {ext}", "lon": p.x, "lat": p.y}

    def warning(ext: str, n: int) -> dict:
        p = points[n % len(points)]
        return {"source": "sensor", "external_id": ext, "type": "fire", "level": 3, "title": f"烟感 {ext}",
                "lon": p.x, "lat": p.y, "radius_m": 800}

    with engine.connect() as conn:
        version_before = int(conn.execute(text("SELECT value FROM meta WHERE key='data_version'")).scalar())

    def writer(t: int) -> list[tuple[str, int, list]]:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        out = []
        for i in range(PER_THREAD):
            base = (first, second)[(t + i) % 2].url
            own = case(f"T{t}-{i}", t * PER_THREAD + i)
            shared = case(f"SAME-{i % SHARED}", i)
            batch = [own, shared] if i % 3 else [own]
            for path, body in (("/api/v1/cases", batch), ("/api/v1/warnings", warning(f"W-{i % SHARED}", i))):
                r = session.post(base + path, json=body, timeout=60)
                out.append((path, r.status_code, r.json()))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for rs in pool.map(writer, range(THREADS)) for r in rs]

    failed = [r for r in results if r[1] not in (200, 201)]
    assert not failed, failed[:3]
    with engine.connect() as conn:
        cases = conn.execute(text("SELECT external_id, count(*) FROM cases GROUP BY source, external_id")).all()
        warnings = conn.execute(text("SELECT external_id, count(*) FROM warnings GROUP BY source, external_id")).all()
        version_after = int(conn.execute(text("SELECT value FROM meta WHERE key='data_version'")).scalar())
        events = conn.execute(text("SELECT count(*) FROM case_events WHERE action='report'")).scalar()
    sent_shared = {f"SAME-{i % SHARED}" for i in range(PER_THREAD) if i % 3}
    assert {e for e, _ in cases} == {f"T{t}-{i}" for t in range(THREADS) for i in range(PER_THREAD)} | sent_shared
    assert all(n == 1 for _, n in cases), "no duplicates"
    assert len(warnings) == min(SHARED, PER_THREAD) and all(n == 1 for _, n in warnings)
    assert events == len(cases), "one report event per case, none for the re-sends"
    # every id was created exactly once, however many writers sent it at the same time
    created = Counter(w_item["id"] for path, _, body in results if path == "/api/v1/cases"
                      for w_item in body if w_item["created"])
    assert sorted(created.values()) == [1] * len(cases)
    # each successful write request moved the data version exactly once
    assert version_after - version_before == len(results)
    for srv in (first, second):
        assert "Traceback" not in srv.log.read_text()
