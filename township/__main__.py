"""``python -m township``: see `township.runtime.cli`."""
from township.runtime.cli import main

raise SystemExit(main())
