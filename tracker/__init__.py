"""tracker: turns the stream of AWS launches into clean, subscribable data."""

from __future__ import annotations

__version__ = "0.1.0"
