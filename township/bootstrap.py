"""Open the store the settings name and make it ready: tables, grids, resources, demo data."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .demo import seed_demo
from .repo import GridLoad, ensure_grids, install_resources
from .services import Township
from .settings import Settings
from .store import init_db, make_engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppContext:
    """What every screen needs: the settings, the services and how the grids loaded."""

    settings: Settings
    township: Township
    grid_load: GridLoad


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
    return AppContext(settings, Township(engine, load.gridset), load)
