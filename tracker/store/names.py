"""The one resolver of the service and event names people type: the CLI, the API and its feed links use it.

A service is found by, in order (the first step that finds one wins):

1. its slug, name or one of its aliases, case-insensitively ("amazon-s3", "Amazon S3", "S3");
2. the taxonomy's name key of those (case, spacing, punctuation and the Amazon/AWS prefix
   ignored: "AWS S3", "Amazon Lambda", "aws_lambda");
3. on a database no run has synced the taxonomy into yet (every run and import syncs it), the
   shipped taxonomy (`Taxonomy.by_name`): a known service with nothing stored, whose query is
   simply empty.

An event is found by its slug or display name ("aws-reinvent-2023", "AWS re:Invent 2023"),
then by the name event detection reads in the text ("reinvent 2023", "re:Invent 23"; a name
without a year, "re:Invent", means every stored edition), then by a part of its name ("Summit").

Anything else raises `UnknownNameError`, which carries the closest known names
(`difflib.get_close_matches`): the CLI exits 2 with them, the API answers 400 with them.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select, union

from tracker.errors import TrackerError
from tracker.store.prepared import Prepared
from tracker.store.tables import EVENTS, REGIONS, SERVICE_ALIASES, SERVICES, Reader
from tracker.textutil import slugify

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 5
SIMILARITY = 0.7  # difflib ratio of a suggestion: "lamda" → "lambda" (0.91), not "nothing" → "billing" (0.57)
_YEAR_SUFFIX = re.compile(r"-\d{4}$")


class UnknownNameError(TrackerError):
    """A service or event name that matches nothing known; `suggestions` are the closest known names."""

    exit_code = 2  # an invalid argument (cli.EXIT_CODES)

    def __init__(self, kind: str, name: str, suggestions: Iterable[str] = ()) -> None:
        self.kind = kind
        self.name = name
        self.suggestions: tuple[str, ...] = tuple(suggestions)
        shown = name if len(name) <= 80 else name[:77] + "..."
        if self.suggestions:
            hint = "did you mean: " + ", ".join(self.suggestions) + "?"
        elif kind == "service":
            hint = "`tracker services --all` lists the known services"
        elif kind == "region":
            hint = "regions are partitions such as GovCloud (US) or the China Regions"
        else:
            hint = "no stored event has a similar name (`/api/events` lists them)"
        super().__init__(f"unknown {kind} {shown!r}; {hint}")


@dataclass(frozen=True)
class Resolved:
    """What a typed name means: the stored rows (`ids`, possibly none) and their canonical slugs and names."""

    kind: str  # "service", "event" or "region"
    text: str  # as typed
    ids: tuple[int, ...]
    slugs: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def slug(self) -> str | None:
        """The slug when the name means exactly one service or event (a feed exists per slug)."""
        return self.slugs[0] if len(self.slugs) == 1 else None


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- services


_NEEDLE: BindParameter[str] = bindparam("needle")
# The services whose slug, name or alias is the typed name (lowercased), or whose slug is its slug;
# compiled once and run on the driver's cursor (tracker.store.prepared): every API request asks it.
_EXACT_SERVICE = Prepared(
    select(SERVICES.c.id, SERVICES.c.slug, SERVICES.c.name)
    .where(
        SERVICES.c.id.in_(
            union(
                select(SERVICES.c.id).where(SERVICES.c.slug == bindparam("slug")),
                select(SERVICES.c.id).where(func.lower(SERVICES.c.slug) == _NEEDLE),
                select(SERVICES.c.id).where(func.lower(SERVICES.c.name) == _NEEDLE),
                select(SERVICE_ALIASES.c.service_id).where(func.lower(SERVICE_ALIASES.c.alias) == _NEEDLE),
            )
        )
    )
    .order_by(SERVICES.c.slug)
)


@functools.lru_cache(maxsize=4096)
def _slug(name: str) -> str:
    """`slugify` of a typed name, remembered: the API slugifies the name of every request, and
    slugify (unescaping, control stripping, Unicode folding) cost a tenth of a by-service page."""
    return slugify(name)


def resolve_service(session: Reader, text: str) -> Resolved:
    """The service a typed name means (slug, name, alias or any spelling the taxonomy knows), else UnknownNameError."""
    wanted = _collapse(text)
    if not wanted:
        raise UnknownNameError("service", text)
    needle = wanted.lower()
    # 1. Exact spellings: one query, each of its parts an index lookup (the lower() expression
    # indexes of migration 0010), so a request reads the rows of the one service it names.
    exact = _EXACT_SERVICE.all(session, {"needle": needle, "slug": _slug(wanted)})
    if exact:
        return Resolved(
            "service", text, tuple(r[0] for r in exact), tuple(r[1] for r in exact), tuple(r[2] for r in exact)
        )
    # 2. The taxonomy's name key over every stored name and alias ("AWS S3" is "Amazon S3").
    # Imported here: an exact spelling (the common case) does not pay for the taxonomy module.
    from tracker.normalize.taxonomy import Taxonomy, name_key

    key = name_key(wanted)
    rows = session.execute(select(SERVICES.c.id, SERVICES.c.slug, SERVICES.c.name).order_by(SERVICES.c.slug)).all()
    aliases = session.execute(select(SERVICE_ALIASES.c.service_id, SERVICE_ALIASES.c.alias)).all()
    if key:
        named = [r for r in rows if key in (name_key(r.name), name_key(r.slug.replace("-", " ")))]
        if named:
            return _services(text, named)
        ids = {a.service_id for a in aliases if name_key(a.alias) == key}
        if ids:
            return _services(text, [r for r in rows if r.id in ids])
    display: dict[str, str] = {}
    if rows:
        by_id = {r.id: r.name for r in rows}
        for r in rows:
            display.setdefault(r.name.lower(), r.name)
            display.setdefault(r.slug.lower(), r.name)
        for a in aliases:
            if a.service_id in by_id:
                display.setdefault(a.alias.lower(), by_id[a.service_id])
    else:
        # 3. A database no run has synced the taxonomy into yet (every run and import does):
        # the shipped taxonomy says whether the name is a service, with nothing stored for it.
        # Loading it costs ~0.3 s, so a synced database never does.
        taxonomy = Taxonomy.load()
        known = taxonomy.by_name(wanted)
        if known is not None:
            return Resolved("service", text, (), (known.slug,), (known.name,))
        for svc in taxonomy.services:
            for spelling in (svc.name, svc.slug, *svc.aliases):
                display.setdefault(spelling.lower(), svc.name)
    # Suggestions, each shown as its service's name.
    raise UnknownNameError("service", text, _suggest(needle, display))


def _services(text: str, rows: Sequence[Any]) -> Resolved:
    return Resolved(
        "service", text, tuple(r.id for r in rows), tuple(r.slug for r in rows), tuple(r.name for r in rows)
    )


# --------------------------------------------------------------------------- events


def resolve_event(session: Reader, text: str) -> Resolved:
    """The stored event(s) a typed name means (slug, name, any spelling event detection reads), else UnknownNameError."""
    wanted = _collapse(text)
    if not wanted:
        raise UnknownNameError("event", text)
    needle = wanted.lower()
    slug = slugify(wanted)
    # The events table is tiny: matching in Python behaves the same on both databases.
    rows = session.execute(select(EVENTS.c.id, EVENTS.c.slug, EVENTS.c.name).order_by(EVENTS.c.slug)).all()
    # 1. Its slug or display name.
    found = [r for r in rows if needle in (r.slug.lower(), _collapse(r.name).lower()) or (slug and slug == r.slug)]
    if not found:
        # 2. The event detection reads in the text: "reinvent 2023" is AWS re:Invent 2023; a
        # name without a year ("re:Invent") means each stored edition of it.
        from tracker.normalize.events import detect_event  # only when slug and name did not match

        event = detect_event(wanted)
        if event is not None:
            found = [
                r
                for r in rows
                if r.slug == event.slug or (event.year is None and _YEAR_SUFFIX.sub("", r.slug) == event.slug)
            ]
    if not found and slug:
        # 3. A part of the name or slug ("Summit", "community-day").
        found = [r for r in rows if needle in _collapse(r.name).lower() or slug in r.slug]
    if found:
        return Resolved(
            "event", text, tuple(r.id for r in found), tuple(r.slug for r in found), tuple(r.name for r in found)
        )
    display: dict[str, str] = {}
    for r in rows:
        display.setdefault(_collapse(r.name).lower(), r.name)
        display.setdefault(r.slug.lower(), r.name)
    raise UnknownNameError("event", text, _suggest(needle, display))


# --------------------------------------------------------------------------- suggestions


def _suggest(needle: str, display: dict[str, str]) -> list[str]:
    """The display names of the spellings closest to the needle (difflib), best first, each once."""
    close = difflib.get_close_matches(needle, list(display), n=MAX_SUGGESTIONS * 3, cutoff=SIMILARITY)
    out: list[str] = []
    for spelling in close:
        name = display[spelling]
        if name not in out:
            out.append(name)
    return out[:MAX_SUGGESTIONS]


# --------------------------------------------------------------------------- regions


def resolve_region(session: Reader, text: str) -> Resolved:
    """The partition or Region a typed name means ("GovCloud", "AWS China (Beijing) Region"), else UnknownNameError."""
    wanted = _collapse(text)
    if not wanted:
        raise UnknownNameError("region", text)
    needle = wanted.lower()
    rows = session.execute(select(REGIONS.c.id, REGIONS.c.slug, REGIONS.c.name).order_by(REGIONS.c.slug)).all()
    exact = [r for r in rows if needle in (r.slug.lower(), r.name.lower()) or r.slug == slugify(wanted)]
    if exact:
        return Resolved(
            "region", text, tuple(r.id for r in exact), tuple(r.slug for r in exact), tuple(r.name for r in exact)
        )
    # Other spellings through the taxonomy ("GovCloud (US-West)" is AWS GovCloud (US)).
    from tracker.normalize.taxonomy import Taxonomy

    taxonomy = Taxonomy.load()
    meant = [s for s in taxonomy.find(wanted) if s.region] or [
        s for s in (taxonomy.by_name(wanted),) if s is not None and s.region
    ]
    if meant:
        slugs = {s.slug for s in meant}
        ids = tuple(r.id for r in rows if r.slug in slugs)
        # A known region nothing is stored for yet: an empty answer, not an error.
        return Resolved("region", text, ids, tuple(s.slug for s in meant), tuple(s.name for s in meant))
    display = {r.name.lower(): r.name for r in rows}
    for svc in taxonomy.services:
        if svc.region:
            for spelling in (svc.name, *svc.aliases):
                display.setdefault(spelling.lower(), svc.name)
    raise UnknownNameError("region", text, _suggest(needle, display))
