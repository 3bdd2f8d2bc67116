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

# The same evidence means different things in different documents, so each feature is also
# weighed in its candidate's regime ("regime=open" and "open|title_services"); the regime itself
# and the features already particular to posts are not crossed.
_NOT_CROSSED = ("regime=", "post&")


def regime_of(features: Mapping[str, float]) -> str | None:
    """The regime a candidate's features name ("rule", "open", "marked", "post"), if any."""
    for name in features:
        if name.startswith("regime="):
            return name[len("regime=") :]
    return None


def crossed(features: Mapping[str, float]) -> dict[str, float]:
    """The features with each one also given in its regime, as the model is fitted on them."""
    regime = regime_of(features)
    out = dict(features)
    if regime is not None:
        out.update({f"{regime}|{k}": v for k, v in features.items() if not k.startswith(_NOT_CROSSED)})
    return out


@dataclass(frozen=True)
class CandidateModel:
    """Weights per feature, a bias and the probability above which a candidate is a launch."""

    weights: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0
    threshold: float = 0.5
    # Per regime of a candidate (feature "regime=NAME"): its own threshold, where fitted.
    thresholds: Mapping[str, float] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    # Per regime: each plain feature's weight plus its weight in that regime (built on first use).
    _tables: dict[str | None, dict[str, float]] = field(default_factory=dict, compare=False, repr=False)

    def _table(self, regime: str | None) -> dict[str, float]:
        table = self._tables.get(regime)
        if table is None:
            table = {}
            for name, weight in self.weights.items():
                head, bar, base = name.partition("|")
                if not bar:
                    table[name] = table.get(name, 0.0) + weight
                elif head == regime:
                    table[base] = table.get(base, 0.0) + weight
            self._tables[regime] = table
        return table

    def threshold_for(self, features: Mapping[str, float]) -> float:
        """The threshold that applies to a candidate with these features."""
        for name, value in self.thresholds.items():
            if value is not None and features.get(f"regime={name}"):
                return value
        return self.threshold

    def never_accepts(self, regime: str) -> bool:
        """Whether no candidate of this regime can pass (its threshold is above any probability)."""
        threshold = self.thresholds.get(regime)
        return threshold is not None and threshold > 1.0

    def accepts(self, features: Mapping[str, float]) -> bool:
        """Whether a candidate with these features is a launch."""
        return self.score(features) >= self.threshold_for(features)

    def score(self, features: Mapping[str, float]) -> float:
        """The probability that a candidate with these features is a launch.

        The features are the plain ones (their regime among them); each weighs its plain weight
        plus its weight in the regime, without building the crossed names. Crossed names given
        as well (from `crossed`) weigh nothing more: the score is the same.
        """
        weight = self._table(regime_of(features)).get
        # A list, not a generator: the same sum in the same order, without a frame per feature.
        z = self.bias + sum([weight(name, 0.0) * value for name, value in features.items()])
        if z < -60:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def explain(self, features: Mapping[str, float], top: int = 6) -> list[tuple[str, float]]:
        """The features that moved the score most, with their contributions."""
        parts = [(name, self.weights.get(name, 0.0) * value) for name, value in crossed(features).items()]
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
