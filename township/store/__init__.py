"""The store: SQLAlchemy models, the engine and its sessions, migrations glue."""
from township.store import evacuation, models, outbox

# Both model modules, whichever is imported first: Base.metadata then holds every table (create_all,
# the migrations' comparison), the notification tables of `outbox` and
# the evacuation tables of `evacuation` too.
__all__ = ["evacuation", "models", "outbox"]
