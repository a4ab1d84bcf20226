"""Benchmarks of the budgets in docs/design.md §4 (run each as ``python -m bench.<name>``)."""
