"""Answer keys and their scores: the measuring stick of extraction.

An answer key (JSON, the format of ``../shared/README.md``) names its document by a path under a
corpus root. Keys live in ``tests/gold`` (documents under ``../shared/corpus``) and
``tests/gold/ext`` (documents under ``../shared/corpus/external``, public documents that are
not redistributed with the project: see ``tests/gold/ext/SOURCES.md``). Scores come from the
shared scorer, ``../shared/tools/score_extraction.py``, loaded as a module so that evaluation
over many folds stays fast; the figures are the ones the scorer prints as a program.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_DIRS = (REPO_ROOT / "tests" / "gold", REPO_ROOT / "tests" / "gold" / "ext")
DEFAULT_SHARED = REPO_ROOT.parent / "shared"


@dataclass(frozen=True)
class GoldKey:
    """One hand-labelled answer key and where its document is."""

    path: Path
    document: Path
    source: str
    kind: str
    data: dict[str, Any] = field(repr=False, hash=False, compare=False)

    @property
    def name(self) -> str:
        """The key's file name without .json."""
        return self.path.stem

    @property
    def external(self) -> bool:
        """Whether the document is one of the external (not redistributed) documents."""
        return str(self.data.get("document", "")).startswith("external/")


# The upstream source of each folder of ../shared/corpus (its SOURCES.md), for keys that do not
# name their source: documents of one author count as one source in leave-one-source-out.
CORPUS_FOLDER_SOURCES = {
    "recaps/": "TheCandidStartup/TheCandidStartup.github.io",
    "candid-startup-recaps/": "TheCandidStartup/TheCandidStartup.github.io",
    "other-recaps/abhishek-pradhan-keynotes/": "abhishek-pradhan/abhishek-pradhan.github.io",
    "other-recaps/zoph-awscon-onepager/": "zoph-io/awscon-onepager",
    "aws-news-blog/posts-md-walkley/": "walkley/china-regions-content-bot",
    "aws-news-blog/real/walkley-2025-fullpage-md/": "walkley/china-regions-content-bot",
    "aws-news-blog/real/juliensimon-2021-body-html/": "juliensimon/post-downloader",
    "aws-news-blog/aws-blog-atom": "feedjira/feedjira",
    "whats-new/whats-new-feed-2025": "Ernyoke/bsky-aws-news-feed",
    "whats-new/whats-new-feed-2016": "jpignata/aws-whats-new",
    "whats-new/whats-new-page-2019": "circa10a/go-aws-news",
}


def _source_of(data: dict[str, Any], document: str) -> str:
    if data.get("source"):
        return str(data["source"])
    for prefix, source in CORPUS_FOLDER_SOURCES.items():
        if document.startswith(prefix):
            return source
    return document.rsplit("/", 1)[0]


def load_keys(shared: Path = DEFAULT_SHARED, key_dirs: Iterable[Path] = KEY_DIRS) -> tuple[list[GoldKey], list[Path]]:
    """Every key whose document is present, and the keys whose document is missing."""
    corpus = shared / "corpus"
    paths = sorted((corpus / "gold").glob("*.json"))
    for folder in key_dirs:
        paths += sorted(folder.glob("*.json"))
    keys: list[GoldKey] = []
    missing: list[Path] = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        document = corpus / str(data["document"])
        if not document.is_file():
            missing.append(path)
            continue
        keys.append(
            GoldKey(
                path=path,
                document=document,
                source=_source_of(data, str(data["document"])),
                kind=str(data.get("kind") or ""),
                data=data,
            )
        )
    return keys, missing


def load_scorer(shared: Path = DEFAULT_SHARED) -> ModuleType:
    """The shared scorer as a module."""
    path = shared / "tools" / "score_extraction.py"
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path}: the shared scorer is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(scorer: ModuleType, key: GoldKey, predicted: dict[str, Any]) -> dict[str, float]:
    """The scorer's figures for one prediction.

    A document with no launch in its key and none predicted scores F1 1.0 (the scorer gives 0
    there, since precision has nothing to count); with launches predicted it scores 0.
    """
    figures: dict[str, float] = scorer.score(key.data, predicted)
    required = sum(1 for a in key.data["announcements"] if not a.get("optional"))
    if required == 0:
        optional = sum(1 for a in key.data["announcements"] if a.get("optional"))
        extra = max(0, len(predicted.get("announcements", [])) - optional)
        figures["announcement_f1"] = 1.0 if extra == 0 else 0.0
        figures["announcement_precision"] = 1.0 if extra == 0 else 0.0
    return figures


@dataclass(frozen=True)
class Report:
    """Per-document figures and their means."""

    rows: list[tuple[GoldKey, dict[str, float]]]

    def mean(self, figure: str) -> float:
        """The mean of one figure over the documents."""
        values = [f[figure] for _, f in self.rows]
        return sum(values) / len(values) if values else 0.0

    def minimum(self, figure: str) -> float:
        """The lowest value of one figure."""
        return min((f[figure] for _, f in self.rows), default=0.0)

    def format(self) -> str:
        """A plain-text table, one document a line, means last."""
        lines = [f"{'document':60} {'source':38} {'gold':>4} {'pred':>4} {'F1':>5} {'svc':>5} {'link':>5}"]
        for key, f in self.rows:
            lines.append(
                f"{key.name[:60]:60} {key.source[:38]:38} {int(f['announcements_gold']):4d} "
                f"{int(f['announcements_predicted']):4d} {f['announcement_f1']:5.3f} "
                f"{f['service_accuracy']:5.3f} {f['link_f1']:5.3f}"
            )
        lines.append(
            f"mean over {len(self.rows)} documents ({len({k.source for k, _ in self.rows})} sources): "
            f"F1 {self.mean('announcement_f1'):.3f}, service accuracy {self.mean('service_accuracy'):.3f}, "
            f"link F1 {self.mean('link_f1'):.3f}, lowest F1 {self.minimum('announcement_f1'):.3f}"
        )
        return "\n".join(lines)


def evaluate(keys: list[GoldKey], predict: Callable[[GoldKey], dict[str, Any]], scorer: ModuleType) -> Report:
    """Score `predict` on every key."""
    return Report([(key, score(scorer, key, predict(key))) for key in keys])
