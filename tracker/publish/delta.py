"""Which feed documents a change renders again: pure arithmetic on a feed's places, no records.

A feed's entries are in one order, newest first (`feeds.entry_order`). Its subscription document
holds the newest `limit`; its archive pages are cut from the oldest entry on, `limit` each, page 1
the oldest (`feeds.archive_pages`). So an entry's page is fixed by how many entries are *older*
than it, and a change moves entries only on the pages from the oldest changed place onwards:

* an entry added or removed (or moved: removed at its old place, added at its new one) shifts every
  entry newer than it by one place: every page from the one holding the oldest such place on is
  rendered again, the older pages are not;
* an entry changed in place (same date, same key) changes its own page only;
* when the number of full pages changes, the page that gains or loses its next-archive link is
  rendered again, new pages are rendered and pages no longer full are removed.

The subscription document of a feed with any change is always rendered again (it is one page).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tracker.publish.feeds import page_count

# Past this many entries changed in place in one feed, every page of it is rendered: counting
# each one's place would cost more than the pages.
MANY_EDITS = 64


@dataclass(frozen=True, slots=True)
class PagePlan:
    """What to do with one feed's archive pages: render these, remove those (page numbers, 1 = oldest)."""

    render: tuple[int, ...]
    remove: tuple[int, ...]
    pages: int  # full pages after the change


def plan_pages(
    old_entries: int,
    new_entries: int,
    limit: int,
    *,
    shifted_from: int | None = None,
    edited: Iterable[int] = (),
    everything: bool = False,
) -> PagePlan:
    """The archive pages of one feed to render again and to remove after a change.

    `shifted_from`: how many entries are older than the oldest place where an entry was added or
    removed (None: none was); `edited`: for each entry changed in place, how many entries are
    older than it; `everything`: render every page (a new feed, a changed title).
    """
    old_pages, new_pages = page_count(old_entries, limit), page_count(new_entries, limit)
    remove = tuple(range(new_pages + 1, old_pages + 1))
    if everything:
        return PagePlan(tuple(range(1, new_pages + 1)), remove, new_pages)
    render: set[int] = set()
    if shifted_from is not None:
        render.update(range(shifted_from // limit + 1, new_pages + 1))
    for older in edited:
        page = older // limit + 1
        if page <= new_pages:
            render.add(page)
    # Pages that became full are new; the newest page before and after gains or loses its next link.
    render.update(range(old_pages + 1, new_pages + 1))
    if old_pages != new_pages and min(old_pages, new_pages) >= 1:
        render.add(min(old_pages, new_pages))
    return PagePlan(tuple(sorted(render)), remove, new_pages)


def spans(pages: Iterable[int], entries: int, limit: int, *, subscription: bool = True) -> list[tuple[int, int]]:
    """The newest-first slices [start, stop) that hold the given archive pages (and the
    subscription document), adjacent ones merged, so each is read with one query."""
    wanted: list[tuple[int, int]] = []
    if subscription and entries:
        wanted.append((0, min(limit, entries)))
    wanted.extend((entries - page * limit, entries - (page - 1) * limit) for page in pages)
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(wanted):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
