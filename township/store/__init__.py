"""The store: SQLAlchemy models, the engine and its sessions, migrations glue."""
