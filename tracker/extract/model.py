"""The candidate model: a logistic score over named features, its weights kept as data.

The weights are fitted on hand-labelled documents by ``python -m tracker.extract.learn fit``
and written to ``extract_model.json`` beside ``extract.toml``. Scoring needs only this module:
no fitting library at run time.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateModel:
    """Weights per feature, a bias and the probability above which a candidate is a launch."""

    weights: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0
    threshold: float = 0.5
    # Per regime of a candidate (feature "regime=NAME"): its own threshold, where fitted.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def threshold_for(self, features: Mapping[str, float]) -> float:
        """The threshold that applies to a candidate with these features."""
        for name, value in self.thresholds.items():
            if value is not None and features.get(f"regime={name}"):
                return value
        return self.threshold

    def accepts(self, features: Mapping[str, float]) -> bool:
        """Whether a candidate with these features is a launch."""
        return self.score(features) >= self.threshold_for(features)

    def score(self, features: Mapping[str, float]) -> float:
        """The probability that a candidate with these features is a launch."""
        weight = self.weights.get
        # A list, not a generator: the same sum in the same order, without a frame per feature.
        z = self.bias + sum([weight(name, 0.0) * value for name, value in features.items()])
        if z < -60:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def explain(self, features: Mapping[str, float], top: int = 6) -> list[tuple[str, float]]:
        """The features that moved the score most, with their contributions."""
        parts = [(name, self.weights.get(name, 0.0) * value) for name, value in features.items()]
        parts = [p for p in parts if p[1]]
        parts.sort(key=lambda p: -abs(p[1]))
        return parts[:top]

    def to_json(self) -> dict[str, Any]:
        """The model as a JSON object (weights sorted by name, for readable diffs)."""
        return {
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
            "thresholds": dict(sorted(self.thresholds.items())),
            "weights": {k: round(v, 6) for k, v in sorted(self.weights.items()) if abs(v) > 1e-9},
            "meta": dict(self.meta),
        }


def model_from_json(data: Mapping[str, Any], file: str = "<model>") -> CandidateModel:
    """A model from its JSON object, checked."""
    weights = data.get("weights", {})
    if not isinstance(weights, dict) or not all(isinstance(v, (int, float)) for v in weights.values()):
        raise ConfigError("'weights' must map feature names to numbers", file=file, key="weights")
    bias = data.get("bias", 0.0)
    threshold = data.get("threshold", 0.5)
    if not isinstance(bias, (int, float)) or not isinstance(threshold, (int, float)):
        raise ConfigError("'bias' and 'threshold' must be numbers", file=file, key="bias")
    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, dict) or not all(isinstance(v, (int, float)) for v in thresholds.values()):
        raise ConfigError("'thresholds' must map regimes to numbers", file=file, key="thresholds")
    return CandidateModel(
        weights={str(k): float(v) for k, v in weights.items()},
        bias=float(bias),
        threshold=float(threshold),
        thresholds={str(k): float(v) for k, v in thresholds.items()},
        meta=dict(data.get("meta", {})),
    )


def load_model(path: Path) -> CandidateModel | None:
    """The model stored at path, or None when there is none (only the marker rules then count)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        log.debug("no candidate model at %s: marker rules only", path)
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"not valid JSON: {exc}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object", file=str(path))
    return model_from_json(data, str(path))
