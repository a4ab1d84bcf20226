"""Core of the smart-township command map: no screen code lives here.

Domain vocabulary, grid set, store, services and ingest for the township
dashboard. Nothing in this package imports Dash.
"""
