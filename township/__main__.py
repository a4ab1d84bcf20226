"""``python -m township``: see `township.cli`."""
from .cli import main

raise SystemExit(main())
