"""Allow ``python -m tracker``."""

from __future__ import annotations

from tracker.cli import main

raise SystemExit(main())
