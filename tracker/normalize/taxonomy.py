"""The AWS service taxonomy: canonical services, their aliases, and finding them in text.

Two layers make the taxonomy:

1. the generated seed (tracker/normalize/data/sdk_services.json, see build_taxonomy.py): every
   botocore client with its official names and identifiers, and the What's New product tags;
2. the curated tracker/data/services.toml: marketing names, which SDK clients form one product,
   sub-products, products that are not SDK clients, and the text rules (common words, names
   that are not AWS services, database engines).

Every SDK client not claimed by a curated service is merged into its base client when its id
is the base id plus a part suffix (`-runtime`, `-data`, `v2`…), else it becomes a service of
its own named from its metadata. Every What's New tag is resolved to a service (curated
`tags`, then its words as a name, then the first service its words name) or, failing that,
becomes a service of its own named from its words.

Finding services in free text (`Taxonomy.find`) works on words, left to right, longest match
first:

* at each word, leading "Amazon"/"AWS" words are noted as a prefix and skipped; the bare prefix
  names nothing;
* a name matches 1–6 consecutive words whose letters and digits, joined and lower-cased, equal
  the alias's (so "Data Zone", "DataZone", "Open-Search" and "Elasticache" all match); words
  join across spaces, hyphens, slashes, dots, colons, apostrophes and parentheses, never across
  , ; ! ? or the end of a sentence;
* the longest alias wins ("Amazon Redshift Serverless" is Redshift once, "S3 Express One Zone"
  is S3), and names listed as not services or as database engines are consumed without naming
  a service (so "Aurora PostgreSQL" is Aurora, "PostgreSQL" alone is nothing);
* a typo is forgiven (one insertion, deletion, substitution or transposition, same first
  letter) for names of 6+ letters when the name has several words or 8+ letters, or when the
  Amazon/AWS prefix is present ("Aurora PostgresSQL", "AWS Lamda");
* acronyms written in capitals in the source ("RDS", "EKS", "STEP") match only in capitals,
  and two-letter ones ("ML", "MQ") only after Amazon/AWS;
* a *generic* alias — every word of it in `common_words` ("Connect", "Batch", "Glue", "Step
  Functions") — matches only after Amazon/AWS, or when written capitalised where capitals mean
  a name: for one word, not at the start of a sentence, in a text that is not Title Case (most
  long words after the first capitalised), and where the name visibly ends: the text ends,
  punctuation follows, or "and"/"or" ("integrations with Glue." and "with Batch and EKS", but
  not "Batch processing" nor "Backup Payment Methods"); for several words, every word
  capitalised ("Secrets Manager");
* a typo is forgiven only for plain aliases, or short names after Amazon/AWS ("AWS licence
  Manager"): when the words line up, the edit must fall in a word of 5+ letters ("voice in" is
  not "Voice ID");
* `prefix_only` aliases and one-letter aliases ("Q") match only after Amazon/AWS;
* SDK ids and endpoint prefixes ("es", "ce", "mq") never match free text; they serve
  `by_name` and `from_tag` only;
* a What's New tag's own words add a free-text alias only when no service has that spelling
  yet (lower-case tag words must not turn an acronym such as "amazon-rds" into a plain word);
* `patterns` of a curated service (regular expressions, e.g. EC2 instance families followed
  by "instances") are matched first and consume their words.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tracker.config import read_toml
from tracker.errors import ConfigError
from tracker.items import Announcement, Service, ServicesNamed
from tracker.normalize.text import clean_text, fold, fold_spaced, slugify

log = logging.getLogger(__name__)

SEED_PATH = Path(__file__).resolve().parent / "data" / "sdk_services.json"
SERVICES_FILE = "services.toml"
PRODUCT_TAG_PREFIX = "general:products/"
PREFIX_WORDS = frozenset({"amazon", "aws"})
MAX_SPAN = 7  # words in the longest alias a text can match
_PART_SUFFIX = re.compile(r"(?:-runtime|-data|-control|-query|-admin|-events|-vod|-plane|-v\d+|v\d+|-streams|-oidc)$")
_WORD = re.compile(r"[A-Za-z0-9]+")
_JOIN_GAP = re.compile(r"^(?:[ \t\-–—/()&+.:'’_@]|\.(?=\S))*$")
_SENTENCE_GAP = re.compile(r"[.!?:;|•]\s|[\n\r]|^\s*[-*•]\s")
_ACRONYM = re.compile(r"^[A-Z]{2,5}$")
_GLUED_PREFIX = re.compile(r"^(Amazon|AWS)(?=[A-Z][a-z]|[A-Z]{2,})")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


# --- loading ---------------------------------------------------------------------------------


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=65536)
def compact(text: str) -> str:
    """Lower-case letters and digits only, accents folded: the key names are compared by."""
    return _NON_ALNUM.sub("", (text if text.isascii() else fold(text)).lower())


def _strip_prefix_words(text: str) -> str:
    """A name without its leading Amazon/AWS words ("AWS Lambda" → "Lambda")."""
    words = text.split()
    while len(words) > 1 and compact(words[0]) in PREFIX_WORDS:
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=65536)
def _key(text: str) -> str:
    """The lookup key of a name: compact form with leading amazon/aws removed."""
    key = compact(text)
    changed = True
    while changed:
        changed = False
        for prefix in ("amazon", "aws"):
            if key.startswith(prefix) and len(key) > len(prefix):
                key = key[len(prefix) :]
                changed = True
    return key


def name_key(name: str) -> str:
    """The key `Taxonomy.by_name` compares a service name by: case, spacing, punctuation and the
    Amazon/AWS prefix ignored ("AWS S3", "Amazon S3", "s3" → "s3"); the store's name resolver uses it too."""
    return _key(clean_text(name or ""))


@dataclass
class _Draft:
    """A service while the taxonomy is being assembled."""

    slug: str
    name: str
    curated: bool = False
    sdk: list[dict[str, Any]] = field(default_factory=list)
    text_aliases: list[str] = field(default_factory=list)  # usable in free text
    id_aliases: list[str] = field(default_factory=list)  # by_name / from_tag only
    tags: list[str] = field(default_factory=list)
    tag_words: list[str] = field(default_factory=list)  # free-text aliases made from tags
    patterns: list[str] = field(default_factory=list)
    engine_host: bool = False
    category: str | None = None
    region: bool = False
    successor: str | None = None


def _str_list(value: Any, *, file: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("expected a list of strings", file=file, key=key)
    return list(value)


_SERVICE_KEYS = {"name", "slug", "sdk", "tags", "aliases", "patterns", "engine_host", "category", "region", "successor"}
_TEXT_KEYS = {"common_words", "prefix_only", "ignore", "not_services", "engines"}


def _clean_sdk_name(full: str | None, record: Mapping[str, Any]) -> str | None:
    """A display name from botocore's serviceFullName (glued prefixes split, "Service" dropped
    when it is not part of the serviceId, a prefix added when missing)."""
    if not full:
        return None
    name = _GLUED_PREFIX.sub(r"\1 ", full.strip())
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    name = " ".join(name.split())
    rest = _strip_prefix_words(name)
    sid = compact(record.get("service_id") or "")
    if rest.endswith(" Service") and compact(rest[: -len(" Service")]) == sid:
        name = name[: -len(" Service")]
    if compact(name.split()[0]) not in PREFIX_WORDS:
        abbreviation = (record.get("abbreviation") or "").split()
        prefix = "Amazon" if abbreviation and abbreviation[0] == "Amazon" else "AWS"
        name = f"{prefix} {name}"
    return name


def _sdk_aliases(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(free-text aliases, identifier aliases) of one botocore client."""
    text: list[str] = []
    ids: list[str] = [record["id"]]
    full = record.get("full_name")
    if full:
        text.append(full)
        cleaned = _clean_sdk_name(full, record)
        if cleaned:
            text.append(cleaned)
        # "Amazon DynamoDB Accelerator (DAX)": the name and the acronym are both aliases.
        m = re.search(r"\(([^)]+)\)\s*$", full)
        if m:
            text.append(m.group(1))
    for value in (record.get("abbreviation"), record.get("service_id")):
        if not value:
            continue
        if value == value.lower():  # "mq", "odb", "tnb": identifiers, not names
            ids.append(value)
        else:
            text.append(value)
    if record.get("endpoint_prefix"):
        ids.append(record["endpoint_prefix"])
    return text, ids


def _tag_name(tag: str) -> str:
    """A display name made from a tag slug ("aws-local-zones" → "AWS Local Zones")."""
    words = []
    for word in tag.split("-"):
        if word in ("aws",):
            words.append("AWS")
        elif word in ("for", "and", "of", "on", "in", "with", "the", "to"):
            words.append(word)
        else:
            words.append(word[:1].upper() + word[1:])
    return " ".join(words)


def _most_common(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


@dataclass(frozen=True, slots=True)
class _Alias:
    """One spelling usable in free text."""

    slug: str | None  # None: a name that is not a service (consumed, names nothing)
    text: str
    kind: str  # plain | generic | acronym | prefix
    words: int
    curated: bool


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    lower: str
    start: int
    end: int
    joins_previous: bool
    sentence_start: bool


@dataclass(frozen=True, slots=True)
class _Match:
    slug: str | None
    start: int  # token index
    end: int  # token index, exclusive


class Taxonomy:
    """The canonical AWS services and the matchers that find them in text."""

    def __init__(
        self,
        services: Sequence[Service],
        *,
        exact: Mapping[str, str],
        text_index: Mapping[str, Sequence[_Alias]],
        tag_map: Mapping[str, str],
        blocked: frozenset[str],
        patterns: Sequence[tuple[re.Pattern[str], str]],
        common_words: frozenset[str],
    ) -> None:
        self.services: tuple[Service, ...] = tuple(services)
        self._by_slug = {s.slug: s for s in self.services}
        self._exact = dict(exact)
        self._text = {k: tuple(v) for k, v in text_index.items()}
        self._tag_map = dict(tag_map)
        self._blocked = blocked
        self._patterns = tuple(patterns)
        self._common = common_words
        self._near_index: _NearIndex | None = None
        self._fuzzy_memo: dict[tuple[str, tuple[str, ...], bool], _Alias | None] = {}
        self._find_memo: dict[str, tuple[Service, ...]] = {}
        self._region_probes: tuple[_RegionProbe, ...] | None = None

    @property
    def _near(self) -> _NearIndex:
        """The keys a typo can be near, indexed for one-edit look-ups; built on first use so
        that loading stays fast."""
        if self._near_index is None:
            # Only keys with a service alias of 6+ letters that a typo may stand for: a plain
            # one, or a short name that may follow Amazon/AWS ("AWS licence Manager").
            self._near_index = _NearIndex(
                key
                for key, aliases in self._text.items()
                if len(key) >= 6
                and any(a.slug is not None and a.kind in ("plain", "generic", "prefix") for a in aliases)
            )
        return self._near_index

    # -- construction -------------------------------------------------------------------

    @classmethod
    def load(cls, config_dir: Path | None = None, *, seed: Path | None = None) -> Taxonomy:
        """The taxonomy from the generated seed and config_dir/services.toml (cached per file version)."""
        from tracker.config import data_file, shipped_file

        toml_path = shipped_file(SERVICES_FILE) if config_dir is None else data_file(config_dir, SERVICES_FILE)
        seed_path = seed or SEED_PATH
        stamp = (str(seed_path), _mtime(seed_path), str(toml_path), _mtime(toml_path))
        cached = _CACHE.get(stamp)
        if cached is None:
            seed_data = json.loads(seed_path.read_text(encoding="utf-8")) if seed_path.is_file() else {}
            if not seed_data:
                log.warning("taxonomy seed %s is missing: only curated services are known", seed_path)
            cached = _build(seed_data, read_toml(toml_path), str(toml_path))
            if len(_CACHE) >= 4:  # a few configurations at most (tests); drop the oldest
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[stamp] = cached
        return cached

    # -- lookups ------------------------------------------------------------------------

    def get(self, slug: str) -> Service | None:
        """The service with this slug."""
        return self._by_slug.get(slug)

    def by_name(self, name: str) -> Service | None:
        """The service any of whose names or identifiers this is (case, spacing, hyphens and
        the Amazon/AWS prefix ignored); None for names that are not services."""
        key = name_key(name)
        if not key or key in self._blocked:
            return None
        slug = self._exact.get(key)
        return self._by_slug.get(slug) if slug else None

    def from_tag(self, tag: str) -> Service | None:
        """The service of a product tag ("general:products/amazon-elasticache", "amazon-elasticache")
        or a blog category ("Amazon Aurora"); None for topic tags (marchitecture, "Launch")."""
        text = clean_text(tag or "").strip()
        if not text:
            return None
        lowered = text.lower()
        if lowered.startswith(PRODUCT_TAG_PREFIX):
            text = text[len(PRODUCT_TAG_PREFIX) :]
        elif re.match(r"^[a-z][\w-]*:[\w/-]+", lowered):
            return None  # another namespace: marketing:marchitecture/…, event:…, tech:…
        slug = self._tag_map.get(text.lower())
        if slug:
            return self._by_slug.get(slug)
        found = self.by_name(text)
        if found is not None:
            return found
        words = text.replace("-", " ") if re.fullmatch(r"[a-z0-9-]+", text) else text
        if _key(words) in self._blocked:
            return None
        matches = self._scan(words, strict=not re.fullmatch(r"[a-z0-9-]+", text))
        first = next((m for m in matches if m.slug), None)
        return self._by_slug.get(first.slug) if first and first.slug else None

    def find(self, text: str) -> list[Service]:
        """Every service named in a free text, in order of first mention, without duplicates."""
        text = text or ""
        known = self._find_memo.get(text)
        if known is not None:
            return list(known)
        seen: list[Service] = []
        for match in self._scan(text, strict=True):
            if match.slug is None:
                continue
            service = self._by_slug.get(match.slug)
            if service is not None and service not in seen:
                seen.append(service)
        # Memoised for short texts: normalising an announcement scans its title twice (for its
        # services, then for its regions); the second scan was a tenth of normalising's time.
        if len(text) <= FIND_MEMO_TEXT and len(self._find_memo) < FIND_MEMO_SIZE:
            self._find_memo[text] = tuple(seen)
        return seen

    def regions_in(self, text: str) -> list[Service]:
        """The partitions and Regions named in a free text, in order of first mention: exactly
        what `find` gives of them, without scanning a text in which none can be named.

        A Region is named only where a run of the text's words spells one of its keys, or comes
        within one edit of it (a typo). Summaries are long and few name a Region: normalising
        scanned every summary with the whole taxonomy to learn that it named none, two fifths
        of normalising's time. A text gets the full scan only when a piece of a Region's key
        that such a spelling must keep is in its words and a run there is within one edit.
        """
        text = text or ""
        if text not in self._find_memo and not self._may_name_region(text):
            return []
        return [s for s in self.find(text) if s.region]

    def _may_name_region(self, text: str) -> bool:
        probes = self._region_probes
        if probes is None:
            probes = self._region_probes = self._build_region_probes()
        if not probes:
            return False
        if any(probe.key is None for probe in probes):
            return True  # a Region found by a pattern or a key too short to probe: always scan
        words = "".join(_WORD.findall(fold(clean_text(text)))).lower()
        return any(probe.near(words) for probe in probes)

    def _build_region_probes(self) -> tuple[_RegionProbe, ...]:
        regions = {s.slug for s in self.services if s.region}
        keys = sorted(k for k, aliases in self._text.items() if any(a.slug in regions for a in aliases))
        probes = [_RegionProbe(key) for key in keys]
        if any(slug in regions for _, slug in self._patterns):
            probes.append(_RegionProbe(None))
        return tuple(probes)

    def named(self, text: str) -> ServicesNamed:
        """How many services a text names, and the share of its words that are service names."""
        tokens, scanned = self._scan_tokens(text or "", strict=True)
        matches = [m for m in scanned if m.slug is not None and m.slug in self._by_slug]
        covered = [False] * len(tokens)
        for m in matches:
            covered[m.start : m.end] = [True] * (m.end - m.start)
        # "Amazon" and "AWS" belong to the name they open.
        counted = [c for c, t in zip(covered, tokens, strict=True) if c or t.lower not in PREFIX_WORDS]
        return ServicesNamed(len({m.slug for m in matches}), sum(counted) / len(counted) if counted else 0.0)

    # -- matching -----------------------------------------------------------------------

    def _scan(self, text: str, *, strict: bool) -> list[_Match]:
        return self._scan_tokens(text, strict=strict)[1]

    def _scan_tokens(self, text: str, *, strict: bool) -> tuple[list[_Token], list[_Match]]:
        """The words of a text and the names found among them (`named` needs both)."""
        # Spaced, not dropped: "ECSがVPC Lattice" names two services, not "ECSVPC".
        text = fold_spaced(clean_text(text))
        tokens = _tokenize(text)
        if not tokens:
            return tokens, []
        taken = [False] * len(tokens)
        found: list[_Match] = []
        # The words inside a pattern's match, by bisection: words are in order and do not
        # overlap (a scan of every word per match was quadratic in a long text).
        starts = [t.start for t in tokens]
        ends = [t.end for t in tokens]
        for pattern, slug in self._patterns:
            for m in pattern.finditer(text):
                idx = list(range(bisect.bisect_left(starts, m.start()), bisect.bisect_right(ends, m.end())))
                if idx and not any(taken[i] for i in idx):
                    for i in idx:
                        taken[i] = True
                    found.append(_Match(slug, idx[0], idx[-1] + 1))
        title_case = _is_title_case(tokens)
        i = 0
        n = len(tokens)
        while i < n:
            if taken[i]:
                i += 1
                continue
            j = i
            while j < n and tokens[j].lower in PREFIX_WORDS and not taken[j]:
                j += 1
            prefixed = j > i
            if j >= n or taken[j]:
                i = max(j, i + 1)
                continue
            if prefixed and not tokens[j].joins_previous and tokens[j].sentence_start:
                prefixed = False
            hit = self._longest(tokens, taken, j, prefixed=prefixed, strict=strict, title_case=title_case)
            if hit is not None:
                found.append(hit)
                for k in range(hit.start, hit.end):
                    taken[k] = True
                i = hit.end
            else:
                i = j if prefixed else i + 1
        found.sort(key=lambda m: m.start)
        return tokens, found

    def _longest(
        self, tokens: list[_Token], taken: list[bool], j: int, *, prefixed: bool, strict: bool, title_case: bool
    ) -> _Match | None:
        limit = 1
        while (
            limit < MAX_SPAN and j + limit < len(tokens) and tokens[j + limit].joins_previous and not taken[j + limit]
        ):
            limit += 1
        # The keys of the spans from j, each one word longer than the last, built once.
        keys = [tokens[j].lower]
        for k in range(j + 1, j + limit):
            keys.append(keys[-1] + tokens[k].lower)
        near_index = self._near
        heads, tails = near_index.reachable_heads, near_index.reachable_tails
        for length in range(limit, 0, -1):
            key = keys[length - 1]
            if key in self._blocked:
                return _Match(None, j, j + length)
            for alias in self._text.get(key, ()):
                if self._allowed(alias, tokens, j, length, prefixed=prefixed, strict=strict, title_case=title_case):
                    return _Match(alias.slug, j, j + length)
            size = len(key)
            if (
                size >= 5
                and ((key[:3], size) in heads or (key[:1] + key[-2:], size) in tails)
                and key not in self._text
            ):
                # (Most spans are near no key by their first letters and length: `_NearIndex.near`
                # would answer nothing, and two calls per span were a tenth of a title's scan.)
                # A typo only when the words are no known spelling (a known one refused by
                # its rules must not come back as a near miss of another spelling).
                near = self._fuzzy(key, tokens[j : j + length], prefixed=prefixed)
                if near is not None:
                    return _Match(near.slug, j, j + length)
        return None

    def _fuzzy(self, key: str, span: Sequence[_Token], *, prefixed: bool) -> _Alias | None:
        """The one service whose plain alias is one edit away from the span, if any.

        The edit must fall in a word of 5+ letters when the words line up ("voice in" is not a
        typo of "Voice ID"); a typo that splits or joins words needs 8+ letters.
        """
        near = self._near.near(key)
        if not near:
            return None  # the usual answer: no known key is one edit away
        # Memoised: the same unknown words recur in every document of a backfill.
        memo_key = (key, tuple(t.lower for t in span), prefixed)
        try:
            return self._fuzzy_memo[memo_key]
        except KeyError:
            pass
        found = self._fuzzy_uncached(near, span, prefixed=prefixed)
        if len(self._fuzzy_memo) < 100_000:
            self._fuzzy_memo[memo_key] = found
        return found

    def _fuzzy_uncached(self, near: Iterable[str], span: Sequence[_Token], *, prefixed: bool) -> _Alias | None:
        chosen: list[_Alias] = []
        words = [t.lower for t in span]
        for cand in near:
            for alias in self._text.get(cand, ()):
                # After Amazon/AWS a service's short name may carry the typo too ("AWS licence Manager").
                if alias.slug is None or not (
                    alias.kind == "plain" or (prefixed and alias.kind in ("generic", "prefix"))
                ):
                    continue
                alias_words = [w.lower() for w in _WORD.findall(fold(alias.text))]
                if len(alias_words) == len(words):
                    diffs = [(a, b) for a, b in zip(words, alias_words, strict=True) if a != b]
                    if len(diffs) != 1 or len(diffs[0][1]) < 5:
                        continue
                    if len(alias_words) == 1 and len(cand) < 8 and not prefixed:
                        continue
                elif len(cand) < 8:
                    continue
                chosen.append(alias)
        slugs = {a.slug for a in chosen}
        if len(slugs) != 1:
            return None  # nothing near, or near two services: no guess
        return chosen[0]

    def _allowed(
        self,
        alias: _Alias,
        tokens: list[_Token],
        j: int,
        length: int,
        *,
        prefixed: bool,
        strict: bool,
        title_case: bool,
    ) -> bool:
        span = tokens[j : j + length]
        if alias.kind == "acronym":
            if len(alias.text) < 3 and not prefixed:
                return False  # "ML", "MQ": too short to mean the service without Amazon/AWS
            return "".join(t.text for t in span) == re.sub(r"[^A-Za-z0-9]", "", alias.text)
        if not strict:
            return True
        if alias.kind == "prefix":
            return prefixed
        if alias.kind == "generic":
            if prefixed:
                return True
            if not all(t.text[:1].isupper() or t.text[:1].isdigit() for t in span):
                return False
            if length > 1 or alias.words > 1:
                return True
            if span[0].sentence_start or title_case:
                return False
            # A name ends there: the text ends, punctuation follows, or a list goes on with
            # and/or ("with Glue and Athena"); "Batch processing", "Backup Payment Methods" go on.
            nxt = tokens[j + length] if j + length < len(tokens) else None
            return nxt is None or not nxt.joins_previous or nxt.lower in ("and", "or")
        return True


# --- matching helpers --------------------------------------------------------------------------


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    previous_end = 0
    for m in _WORD.finditer(text):
        gap = text[previous_end : m.start()]
        first = not tokens
        if gap == " " and not first:
            # The usual gap: one space joins the words and starts no sentence.
            sentence_start, joins = False, True
        else:
            sentence_start = first or bool(_SENTENCE_GAP.search(gap))
            joins = not first and bool(_JOIN_GAP.match(gap)) and not sentence_start
        tokens.append(_Token(m.group(0), m.group(0).lower(), m.start(), m.end(), joins, sentence_start))
        previous_end = m.end()
    return tokens


def _is_title_case(tokens: Sequence[_Token]) -> bool:
    """Most long words capitalised: capitals then say nothing about names."""
    words = [
        t.text
        for t in tokens
        if len(t.text) >= 4 and t.text[0].isalpha() and t.lower not in PREFIX_WORDS and not t.sentence_start
    ]
    if len(words) < 2:
        return False
    upper = sum(1 for w in words if w[0].isupper())
    return upper / len(words) >= 0.75


FIND_MEMO_TEXT = 300  # characters: titles, not summaries
FIND_MEMO_SIZE = 50_000  # texts


class _NearIndex:
    """Keys (6+ letters) by what a one-edit variant of them must share with them.

    One edit (an insertion, deletion or substitution, or two neighbours swapped) of a key of
    6+ letters changes its length by at most one and leaves its first three letters or its
    last two unchanged: an edit that touches the first three stops at the fourth letter, and
    the last two start at the fifth. So a look-up reads a few small buckets instead of trying
    every one-letter deletion of the text.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._by_head: dict[tuple[str, int], list[str]] = {}
        self._by_tail: dict[tuple[str, int], list[str]] = {}
        for key in keys:
            self._by_head.setdefault((key[:3], len(key)), []).append(key)
            self._by_tail.setdefault((key[0] + key[-2:], len(key)), []).append(key)
        # The lengths of the keys of each head and of each first-letter-and-tail, to turn
        # most texts away at once.
        self._head_sizes: dict[str, set[int]] = {}
        for head, size in self._by_head:
            self._head_sizes.setdefault(head, set()).add(size)
        self._tail_sizes: dict[str, set[int]] = {}
        for tail, size in self._by_tail:
            self._tail_sizes.setdefault(tail, set()).add(size)
        # The (head, length) and (first letter and tail, length) of every text `near` may find
        # a key for (a length within one of a key's): what it answers () for is in neither.
        self.reachable_heads: set[tuple[str, int]] = {
            (head, size + d) for head, size in self._by_head for d in (-1, 0, 1)
        }
        self.reachable_tails: set[tuple[str, int]] = {
            (tail, size + d) for tail, size in self._by_tail for d in (-1, 0, 1)
        }
        self._memo: dict[str, tuple[str, ...]] = {}

    def near(self, key: str) -> tuple[str, ...]:
        """The indexed keys, other than key itself, one edit away from it and starting with
        its letter."""
        head, tail = key[:3], key[:1] + key[-2:]
        size = len(key)
        heads = self._head_sizes.get(head, ())
        tails = self._tail_sizes.get(tail, ())
        if not (
            (heads and (size in heads or size - 1 in heads or size + 1 in heads))
            or (tails and (size in tails or size - 1 in tails or size + 1 in tails))
        ):
            return ()  # the usual answer, found without building anything
        try:
            return self._memo[key]
        except KeyError:
            pass
        candidates: set[str] = set()
        for size in (len(key) - 1, len(key), len(key) + 1):
            candidates.update(self._by_head.get((head, size), ()))
            candidates.update(self._by_tail.get((tail, size), ()))
        candidates.discard(key)
        found = tuple(sorted(cand for cand in candidates if _within_one_edit(key, cand)))
        if len(self._memo) >= 200_000:
            self._memo.clear()  # a bound on memory for endless backfills
        self._memo[key] = found
        return found


class _RegionProbe:
    """Whether a text's words (lower case, run together) hold a spelling within one edit of a
    Region's key (`Taxonomy.regions_in`).

    The key is cut in two around one letter it skips, head = key[:m] and tail = key[m+1:]. One
    edit (a letter changed, dropped, added, or two neighbours swapped) at or after the m-th
    letter leaves the head whole at the spelling's start; one before it leaves the tail whole,
    moved by at most one letter. So only the places where the head or the tail occurs are
    compared with the key.
    """

    __slots__ = ("head", "key", "tail")

    def __init__(self, key: str | None) -> None:
        self.key = key if key is not None and len(key) >= 4 else None
        middle = len(self.key) // 2 if self.key else 0
        self.head = self.key[:middle] if self.key else ""
        self.tail = self.key[middle + 1 :] if self.key else ""

    def near(self, words: str) -> bool:
        """Whether a run of `words` is the key or within one edit of it."""
        key = self.key
        if key is None:
            return True
        size = len(key)
        at = words.find(self.head)
        while at >= 0:
            if any(_within_one_edit(words[at : at + n], key) for n in (size - 1, size, size + 1)):
                return True
            at = words.find(self.head, at + 1)
        skipped = len(self.head) + 1  # where the tail starts in the key
        at = words.find(self.tail)
        while at >= 0:
            for start in (at - skipped - 1, at - skipped, at - skipped + 1):
                if start >= 0 and any(
                    _within_one_edit(words[start : start + n], key) for n in (size - 1, size, size + 1)
                ):
                    return True
            at = words.find(self.tail, at + 1)
        return False


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance ≤ 1."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    if la > lb:
        a, b = b, a
    for i in range(len(b)):
        if b[:i] + b[i + 1 :] == a:
            return True
    return False


# --- assembling the taxonomy -----------------------------------------------------------------

_CACHE: dict[tuple[str, float, str, float], Taxonomy] = {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _build(seed: Mapping[str, Any], conf: Mapping[str, Any], file: str) -> Taxonomy:
    for key in conf:
        if key not in ("text", "service"):
            raise ConfigError("unknown key (known: text, service)", file=file, key=key)
    text_conf = conf.get("text", {})
    if not isinstance(text_conf, dict):
        raise ConfigError("expected a table", file=file, key="text")
    for key in text_conf:
        if key not in _TEXT_KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(_TEXT_KEYS))})", file=file, key=f"text.{key}")
    common = frozenset(compact(w) for w in _str_list(text_conf.get("common_words"), file=file, key="text.common_words"))
    prefix_only = {_key(w) for w in _str_list(text_conf.get("prefix_only"), file=file, key="text.prefix_only")}
    ignore = {_key(w) for w in _str_list(text_conf.get("ignore"), file=file, key="text.ignore")}
    not_services = _str_list(text_conf.get("not_services"), file=file, key="text.not_services")
    engines = _str_list(text_conf.get("engines"), file=file, key="text.engines")

    sdk_records: dict[str, dict[str, Any]] = {r["id"]: r for r in seed.get("sdk", []) if r.get("id")}
    drafts: dict[str, _Draft] = {}
    claimed: dict[str, str] = {}  # sdk id -> service slug

    # 1. curated services, in file order; each claims SDK clients by id or glob
    raw_services = conf.get("service", [])
    if not isinstance(raw_services, list):
        raise ConfigError("expected a list of [[service]] tables", file=file, key="service")
    for index, table in enumerate(raw_services):
        where = f"service[{index}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=file, key=where)
        for key in table:
            if key not in _SERVICE_KEYS:
                raise ConfigError(
                    f"unknown key (known: {', '.join(sorted(_SERVICE_KEYS))})", file=file, key=f"{where}.{key}"
                )
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("missing name", file=file, key=f"{where}.name")
        slug = table.get("slug") or slugify(name)
        if not isinstance(slug, str) or slug in drafts:
            raise ConfigError(f"duplicate or invalid slug {slug!r}", file=file, key=f"{where}.slug")
        draft = _Draft(slug=slug, name=name.strip(), curated=True)
        draft.text_aliases.append(draft.name)
        draft.text_aliases.extend(_str_list(table.get("aliases"), file=file, key=f"{where}.aliases"))
        draft.tags.extend(t.lower() for t in _str_list(table.get("tags"), file=file, key=f"{where}.tags"))
        draft.patterns.extend(_str_list(table.get("patterns"), file=file, key=f"{where}.patterns"))
        draft.engine_host = bool(table.get("engine_host", False))
        category = table.get("category")
        draft.category = category if isinstance(category, str) else None
        draft.region = bool(table.get("region", False))
        successor = table.get("successor")
        draft.successor = successor.strip() if isinstance(successor, str) and successor.strip() else None
        for pattern in _str_list(table.get("sdk"), file=file, key=f"{where}.sdk"):
            ids = (
                [sid for sid in sdk_records if fnmatch.fnmatchcase(sid, pattern)]
                if any(c in pattern for c in "*?[")
                else [pattern]
            )
            for sid in ids:
                if sid in claimed:
                    continue  # an earlier, more specific service claimed it
                claimed[sid] = slug
                if sid in sdk_records:
                    draft.sdk.append(sdk_records[sid])
                else:
                    draft.id_aliases.append(sid)  # a client of a newer botocore than the seed's
        drafts[slug] = draft

    # 2. unclaimed SDK clients: parts merge into their base client, the rest stand alone
    def base_of(sid: str) -> str | None:
        current = sid
        while True:
            stripped = _PART_SUFFIX.sub("", current)
            if stripped == current:
                return None
            if stripped in sdk_records:
                return stripped
            current = stripped

    standalone: dict[str, str] = {}
    for sid in sorted(sdk_records, key=lambda s: (base_of(s) is not None, s)):
        if sid in claimed:
            continue
        record = sdk_records[sid]
        base = base_of(sid)
        if base is not None and (base in claimed or base in standalone):
            target = claimed.get(base) or standalone[base]
            drafts[target].sdk.append(record)
            claimed[sid] = target
            continue
        name = _clean_sdk_name(record.get("full_name"), record) or f"AWS {sid}"
        slug = slugify(name)
        if slug in drafts:
            slug = f"{slug}-{sid}"
        drafts[slug] = _Draft(slug=slug, name=name, sdk=[record])
        standalone[sid] = slug
        claimed[sid] = slug

    for draft in drafts.values():
        for record in draft.sdk:
            text, ids = _sdk_aliases(record)
            draft.text_aliases.extend(text)
            draft.id_aliases.extend(ids)

    # 3. the exact index (names and identifiers) before tags, to resolve tags against it
    exact: dict[str, str] = {}

    def add_exact(alias: str, slug: str) -> None:
        key = _key(alias)
        if key and exact.setdefault(key, slug) != slug:
            log.debug("alias %r names both %s and %s; keeping %s", alias, exact[key], slug, exact[key])

    for draft in drafts.values():  # curated services first: their spellings win collisions
        if draft.curated:
            for alias in draft.text_aliases:
                add_exact(alias, draft.slug)
    for draft in drafts.values():
        for alias in draft.text_aliases:
            add_exact(alias, draft.slug)
    for draft in drafts.values():
        for alias in draft.id_aliases:
            add_exact(alias, draft.slug)

    # 4. What's New tags: curated, else by name, else by the first service their words name
    tag_map: dict[str, str] = {}
    for draft in drafts.values():
        for tag in draft.tags:
            tag_map[tag] = draft.slug
    seed_tags: Mapping[str, Any] = seed.get("whats_new_tags", {})
    blocked_keys = frozenset(_key(n) for n in [*not_services, *engines] if _key(n))
    provisional: Taxonomy | None = None
    category_counts: dict[str, Counter[str]] = {}
    for tag, counts in seed_tags.items():
        slug = tag_map.get(tag) or exact.get(_key(tag.replace("-", " ")))
        if slug is None:
            if provisional is None:
                provisional = _make(drafts, exact, tag_map, blocked_keys, common, prefix_only, ignore, engines)
            found = provisional.from_tag(tag)
            slug = found.slug if found else None
        if slug is None:
            name = _tag_name(tag)
            slug = slugify(name)
            if slug not in drafts:
                drafts[slug] = _Draft(slug=slug, name=name)
            log.debug("What's New tag %s is a service of its own: %s", tag, name)
        tag_map[tag] = slug
        draft = drafts[slug]
        draft.tags.append(tag)
        # A tag's words are lower-case: as a free-text alias they could turn an acronym
        # ("amazon-rds") into a case-blind word, so they only add spellings not known yet.
        words = tag.replace("-", " ")
        tag_key = _key(words)
        if len(tag_key) > 4 and tag_key not in exact:
            draft.tag_words.append(words)
        add_exact(tag, slug)
        if isinstance(counts, Mapping):
            category_counts.setdefault(slug, Counter()).update({k: int(v) for k, v in counts.items()})
        else:
            category_counts.setdefault(slug, Counter()).update(list(counts))
    for draft in drafts.values():
        if draft.category is None:
            draft.category = _most_common(category_counts.get(draft.slug, Counter()))

    return _make(drafts, exact, tag_map, blocked_keys, common, prefix_only, ignore, engines)


def _make(
    drafts: Mapping[str, _Draft],
    exact: Mapping[str, str],
    tag_map: Mapping[str, str],
    blocked: frozenset[str],
    common: frozenset[str],
    prefix_only: set[str],
    ignore: set[str],
    engines: Sequence[str],
) -> Taxonomy:
    text_index: dict[str, list[_Alias]] = {}
    exact = dict(exact)

    def add_text(spelling: str, slug: str | None, curated: bool) -> None:
        # "AmazonMQ", "AWSDeadlineCloud": a glued prefix is a prefix word too.
        spelling = _GLUED_PREFIX.sub(r"\1 ", " ".join(spelling.split()))
        stripped = _strip_prefix_words(spelling)
        key = _key(stripped)
        if not key:
            return
        # An ignored acronym ("SSO") is too ambiguous alone, but a curated spelling with its
        # prefix ("AWS SSO") still names the service, after Amazon/AWS only.
        prefix_required = key in ignore
        if prefix_required and not (curated and stripped != spelling and _ACRONYM.match(stripped)):
            return
        if slug is not None and key in blocked:
            return
        words = _WORD.findall(stripped if stripped.isascii() else fold(stripped))
        # "StepFunctions", "Inspector2": camel-case parts are words; digits and versions are not.
        parts = [p for w in words for p in _CAMEL.findall(w) if not re.fullmatch(r"v?\d+", p, re.IGNORECASE)]
        if prefix_required or len(key) < 2 or key in prefix_only:
            # prefix_only wins over an acronym's own rule: "a new CLI" is any product's.
            kind = "prefix"
        elif _ACRONYM.match(stripped):
            kind = "acronym"
        elif parts and all(p.lower() in common for p in parts):
            kind = "generic"
        else:
            kind = "plain"
        entries = text_index.setdefault(key, [])
        alias = _Alias(slug, stripped, kind, len(words), curated)
        if any(e.slug == slug and e.kind == kind and e.text == stripped for e in entries):
            return
        if entries and any(e.slug != slug for e in entries):
            log.debug("text alias %r is ambiguous: %s", stripped, {e.slug for e in entries} | {slug})
        entries.append(alias)

    for draft in drafts.values():
        hosts: list[str] = []
        for spelling in [*draft.text_aliases, *draft.tag_words]:
            add_text(spelling, draft.slug, draft.curated)
            if draft.engine_host:
                hosts.append(_strip_prefix_words(spelling))
        for host in dict.fromkeys(hosts):
            for engine in engines:
                for combo in (f"{host} {engine}", f"{host} for {engine}"):
                    add_text(combo, draft.slug, True)
                    exact.setdefault(_key(combo), draft.slug)
    for entries in text_index.values():
        # Curated spellings first, then the more permissive kinds.
        entries.sort(key=lambda a: (not a.curated, ["plain", "generic", "prefix", "acronym"].index(a.kind)))

    patterns: list[tuple[re.Pattern[str], str]] = []
    for draft in drafts.values():
        for source in draft.patterns:
            try:
                patterns.append((re.compile(source), draft.slug))
            except re.error as exc:
                raise ConfigError(f"bad pattern {source!r}: {exc}", key=f"service {draft.slug}.patterns") from exc

    services = []
    for draft in drafts.values():
        aliases: list[str] = []
        for spelling in [*draft.text_aliases, *draft.tag_words, *draft.id_aliases, *draft.tags]:
            spelling = " ".join(spelling.split())
            if spelling and spelling != draft.name and spelling not in aliases:
                aliases.append(spelling)
        services.append(
            Service(
                slug=draft.slug,
                name=draft.name,
                aliases=tuple(aliases),
                category=draft.category,
                region=draft.region,
                successor=draft.successor,
            )
        )
    services.sort(key=lambda s: s.slug)
    return Taxonomy(
        services,
        exact=exact,
        text_index=text_index,
        tag_map=tag_map,
        blocked=blocked,
        patterns=patterns,
        common_words=common,
    )


# --- announcements ----------------------------------------------------------------------------


# Rules whose tags are the grammatical subject of the launch (a roundup bullet's bold service),
# so they add to what the title names; other tags (blog categories) are broader than the launch.
SUBJECT_RULES = ("roundup:",)


def services_for(ann: Announcement, taxonomy: Taxonomy) -> tuple[Service, ...]:
    """The services of an announcement, from the strongest evidence that names any.

    The rule: an item's own product tags (What's New `general:products/...`) when it has any,
    since AWS assigned them to that very launch, but a retired product's tag only where the
    title names that product (else the title's services, else the product's successor); else
    the services its title names (together with the bold service that is the
    subject of a roundup bullet, "**Amazon ECR** introduces [AWS PrivateLink for FIPS
    endpoints]"); else the services of its explicit tags (the roundup subject, News Blog
    categories); if none names any, the services named by its context, innermost first (its own
    sentence, its sub-bullets, the enclosing bullets, the headings), where the first context
    entry naming at least one service wins alone (an outer heading is weaker evidence than an
    inner bullet). Regions and partitions (GovCloud) are never services (`regions_for`); a
    retired product's tag stands for its successor.
    """
    product: list[Service] = []
    tagged: list[Service] = []
    for tag in ann.service_tags:
        service = taxonomy.from_tag(tag)
        if service is None or service.region:
            continue
        target = product if clean_text(tag).lower().startswith(PRODUCT_TAG_PREFIX) else tagged
        if service not in target:
            target.append(service)
    found = [s for s in taxonomy.find(ann.title) if not s.region]
    if product:
        # A retired product's tag ("Amazon Machine Learning" on a Bedrock item) is a category,
        # not the launch's service, unless the title names that product itself.
        live = [s for s in product if not s.successor or s in found]
        if live:
            return tuple(live)
        # Only retired categories: the services the title names, else their successors.
        return _current(found or product, taxonomy, keep=found)
    if found and tagged and ann.rule.startswith(SUBJECT_RULES):
        return _current(dict.fromkeys([*found, *tagged]), taxonomy, keep=found)
    if found or tagged:
        return _current(found or tagged, taxonomy, keep=found)
    whole = taxonomy.by_name(ann.title)
    if whole is not None and not whole.region:
        # A title that is a service's name and nothing else ("Outposts"): no sentence around it
        # to tell a common word from the name.
        return _current([whole], taxonomy, keep=[whole])
    for text in ann.context:
        found = [s for s in taxonomy.find(text) if not s.region]
        if found:
            return _current(found, taxonomy, keep=found)
    return ()


def _current(services: Iterable[Service], taxonomy: Taxonomy, keep: Iterable[Service] = ()) -> tuple[Service, ...]:
    # A retired product's successor stands in for it, once; not where the launch's own title
    # names the retired product (a 2016 item about the Amazon ML console is about Amazon ML).
    named = set(keep)
    out: list[Service] = []
    for service in services:
        current = taxonomy.by_name(service.successor) if service.successor and service not in named else None
        chosen = current or service
        if chosen not in out:
            out.append(chosen)
    return tuple(out)


def regions_for(ann: Announcement, taxonomy: Taxonomy) -> tuple[Service, ...]:
    """The AWS partitions and Regions an announcement is about: its tags, then its title and text."""
    found: list[Service] = []
    for tag in ann.service_tags:
        service = taxonomy.from_tag(tag)
        if service is not None and service.region and service not in found:
            found.append(service)
    for text in (ann.title, ann.summary):
        for service in taxonomy.regions_in(text or ""):
            if service not in found:
                found.append(service)
    return tuple(found)
