"""Allow ``python -m tracker``."""

from __future__ import annotations

from tracker.cli import main

# The guard matters: worker processes (tracker.parallel, "spawn") import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
