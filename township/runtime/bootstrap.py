"""Open the store the settings name and make it ready: tables, grids, resources, handlers, demo data and users."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from township.accounts.users import seed_demo_users
from township.config import Settings
from township.grids.install import GridLoad, ensure_grids, install_resources
from township.loop.staff import seed_handlers
from township.read.hotspots import HotspotModel
from township.read.snapshot import Township
from township.read.stats import EntryTimes
from township.runtime.demo import seed_demo
from township.runtime.evacdemo import seed_evacuation_demo
from township.store.engine import init_db, make_engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppContext:
    """What every screen needs: the settings, the services and how the grids loaded."""

    settings: Settings
    township: Township
    grid_load: GridLoad
    #: The audit trail's entry times, read once per process and then per data version (the statistics).
    entries: EntryTimes = field(init=False)
    #: The hotspot analyses' weights (built on first use) and last results.
    hotspots: HotspotModel = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", EntryTimes(self.township.engine))  # frozen: set once, here
        object.__setattr__(self, "hotspots", HotspotModel())


def open_township(settings: Settings) -> AppContext:
    """Prepare the embedded default (or the configured store) and return its services.

    The grid file is validated first; a file that fails leaves the stored
    grids in use (the returned :class:`GridLoad` carries its report).
    """
    engine = make_engine(settings.database_url)
    init_db(engine)
    load = ensure_grids(engine, settings.grids_file, settings.grids_crs)
    install_resources(engine, settings.resources_file, load.gridset)
    if settings.seed_demo:
        n = seed_demo(engine, load.gridset)
        if n:
            log.info("seeded %d illustrative cases", n)
    # Handlers (grid officers, party members, teams, departments) come from the grid and
    # resource files, not from the demo: every store gets them. Idempotent.
    n = seed_handlers(engine, load.gridset)
    if n:
        log.info("added %d handlers", n)
    if settings.seed_demo:
        # One demo user per role, with the passwords of township.accounts.users.DEMO_USERS.
        n = seed_demo_users(engine)
        if n:
            log.info("created %d demo users", n)
        # The illustrative household register and shelters for evacuations (after the handlers it names).
        n = seed_evacuation_demo(engine, load.gridset)
        if n:
            log.info("seeded %d illustrative households", n)
    return AppContext(settings, Township(engine, load.gridset), load)
