"""Generate the taxonomy seed (SDK service facts and What's New product tags).

    python -m tracker.normalize.build_taxonomy [--botocore DIR] [--whats-new FEED.xml ...] [--out PATH]

The seed holds identifiers and official names only: for every botocore client its id, the
metadata fields serviceFullName, serviceAbbreviation, serviceId and endpointPrefix; and every
What's New product tag slug (`general:products/<slug>`) seen in the given feeds, with the
marchitecture categories seen beside it (counted per item). The curated layer (marketing names, merges,
sub-products) lives in tracker/data/services.toml and is applied when the taxonomy is loaded, so
regenerating the seed never loses a human decision. Tags already in the output file are kept
(a new botocore release must not forget tags collected from older feeds) unless --no-keep-tags.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SEED_PATH = Path(__file__).resolve().parent / "data" / "sdk_services.json"
PRODUCT_PREFIX = "general:products/"
CATEGORY_PREFIX = "marketing:marchitecture/"

_ITEM = re.compile(r"<(?:item|entry)\b.*?</(?:item|entry)>", re.DOTALL | re.IGNORECASE)
_CATEGORY = re.compile(r"<category\b[^>]*?(?:/>|>(.*?)</category>)", re.DOTALL | re.IGNORECASE)
_TERM = re.compile(r"""\bterm\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_TAG_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def default_botocore_dir() -> Path | None:
    """botocore's data folder of whichever Python can import botocore, else None."""
    try:
        import botocore
    except ImportError:
        candidates = sorted(Path("/root/.pyenv/versions").glob("*/lib/python3*/site-packages/botocore/data"))
        return candidates[-1] if candidates else None
    return Path(botocore.__file__).resolve().parent / "data"


def _load_json(path: Path) -> Any:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return json.load(fh)
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _service_file(folder: Path) -> Path | None:
    """The service-2.json(.gz) of the newest API version of one client."""
    versions = sorted((v for v in folder.iterdir() if v.is_dir()), key=lambda v: v.name)
    for version in reversed(versions):
        for name in ("service-2.json", "service-2.json.gz"):
            if (version / name).is_file():
                return version / name
    return None


def read_botocore(data_dir: Path) -> list[dict[str, str | None]]:
    """One record per botocore client: id and the naming fields of its metadata."""
    records: list[dict[str, str | None]] = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        path = _service_file(folder)
        if path is None:
            continue
        meta = _load_json(path).get("metadata", {})
        records.append(
            {
                "id": folder.name,
                "full_name": meta.get("serviceFullName"),
                "abbreviation": meta.get("serviceAbbreviation"),
                "service_id": meta.get("serviceId"),
                "endpoint_prefix": meta.get("endpointPrefix"),
            }
        )
    return records


def botocore_version(data_dir: Path) -> str | None:
    """The version of the botocore the data folder belongs to, when it says."""
    init = data_dir.parent / "__init__.py"
    if init.is_file():
        m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", init.read_text(encoding="utf-8"))
        if m:
            return m.group(1)
    return None


def _categories_of(item: str) -> list[str]:
    values: list[str] = []
    for m in _CATEGORY.finditer(item):
        text = m.group(1)
        if text is None:
            term = _TERM.search(m.group(0))
            text = term.group(1) if term else ""
        text = html.unescape(re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", text, flags=re.DOTALL))
        values.extend(part.strip() for part in text.split(","))
    return [v for v in values if v]


def read_whats_new_tags(feeds: Iterable[Path]) -> dict[str, dict[str, int]]:
    """Product tag slug -> {marchitecture category: items seen beside it}, from What's New feeds."""
    tags: dict[str, dict[str, int]] = {}
    for feed in feeds:
        text = feed.read_text(encoding="utf-8", errors="replace")
        for item in _ITEM.findall(text):
            cats = _categories_of(item)
            products = [c[len(PRODUCT_PREFIX) :].strip() for c in cats if c.startswith(PRODUCT_PREFIX)]
            groups = {c[len(CATEGORY_PREFIX) :].strip() for c in cats if c.startswith(CATEGORY_PREFIX)}
            for slug in products:
                if _TAG_SLUG.match(slug):
                    counts = tags.setdefault(slug, {})
                    for group in groups:
                        if _TAG_SLUG.match(group):
                            counts[group] = counts.get(group, 0) + 1
    return {slug: dict(sorted(counts.items())) for slug, counts in sorted(tags.items())}


def build_seed(
    botocore_dir: Path | None, feeds: Sequence[Path], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The seed document: SDK records and What's New tags (merged with the previous seed's tags)."""
    previous = previous or {}
    if botocore_dir is not None:
        sdk = read_botocore(botocore_dir)
        version = botocore_version(botocore_dir)
    else:
        sdk = list(previous.get("sdk", []))
        version = previous.get("botocore_version")
    tags: dict[str, dict[str, int]] = {}
    for slug, counts in previous.get("whats_new_tags", {}).items():
        # Older seeds stored a plain list of categories.
        tags[slug] = dict(counts) if isinstance(counts, dict) else {g: 1 for g in counts}
    for slug, counts in read_whats_new_tags(feeds).items():
        merged = tags.setdefault(slug, {})
        for group, n in counts.items():
            merged[group] = max(merged.get(group, 0), n)
    return {
        "about": (
            "Generated by `python -m tracker.normalize.build_taxonomy`; do not edit by hand (curate "
            "tracker/data/services.toml instead). Facts only: botocore client ids and metadata names, and "
            "What's New product tag slugs with how often each marchitecture category was seen beside them."
        ),
        "botocore_version": version,
        "sdk": sdk,
        "whats_new_tags": {slug: dict(sorted(c.items())) for slug, c in sorted(tags.items())},
    }


def write_seed(seed: dict[str, Any], out: Path) -> bool:
    """Write the seed (stable order, one record a line); False when unchanged."""
    lines = ["{"]
    lines.append(f'  "about": {json.dumps(seed["about"])},')
    lines.append(f'  "botocore_version": {json.dumps(seed["botocore_version"])},')
    lines.append('  "sdk": [')
    sdk = seed["sdk"]
    for i, rec in enumerate(sdk):
        lines.append("    " + json.dumps(rec, ensure_ascii=False) + ("," if i + 1 < len(sdk) else ""))
    lines.append("  ],")
    lines.append('  "whats_new_tags": {')
    tags = list(seed["whats_new_tags"].items())
    for i, (slug, groups) in enumerate(tags):
        lines.append(f"    {json.dumps(slug)}: {json.dumps(groups)}" + ("," if i + 1 < len(tags) else ""))
    lines.append("  }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tracker.normalize.build_taxonomy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--botocore", type=Path, help="botocore's data folder (default: the installed botocore)")
    parser.add_argument(
        "--whats-new",
        type=Path,
        nargs="*",
        default=[],
        metavar="FEED.xml",
        help="What's New feeds to collect product tags from",
    )
    parser.add_argument("--out", type=Path, default=SEED_PATH, help=f"the seed file (default: {SEED_PATH})")
    parser.add_argument("--no-keep-tags", action="store_true", help="forget the tags already in --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    botocore_dir = args.botocore or default_botocore_dir()
    if botocore_dir is None or not botocore_dir.is_dir():
        print(f"botocore data folder not found: {botocore_dir}; pass --botocore DIR", file=sys.stderr)
        return 2
    previous: dict[str, Any] | None = None
    if args.out.is_file() and not args.no_keep_tags:
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        previous.pop("sdk", None)
    seed = build_seed(botocore_dir, args.whats_new, previous)
    changed = write_seed(seed, args.out)
    log.info(
        "%s %s: %d SDK clients, %d What's New tags",
        "wrote" if changed else "unchanged",
        args.out,
        len(seed["sdk"]),
        len(seed["whats_new_tags"]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
