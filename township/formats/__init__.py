"""Formats at the edges: ingest, file imports and exports, CAP 1.2, Open311, the API's service layer."""
