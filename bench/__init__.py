"""Benchmarks of the budgets in DESIGN.md §4 (run each as ``python -m bench.<name>``)."""
