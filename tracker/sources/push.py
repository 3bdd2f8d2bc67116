"""Push after a publish: WebSub hub pings and webhooks (outgoing network code lives in sources/).

* WebSub (W3C Recommendation): when a run rewrote feeds, one ``hub.mode=publish`` POST to the
  configured hub names every changed feed (``hub.url`` repeated); the feeds advertise the hub
  with ``rel="hub"`` so subscribers find it.
* Webhooks: one JSON POST per new announcement to every webhook whose filters match it
  (``services``: slugs or names, ``events``: slugs or names; empty means all). The body is
  ``{"type": "announcement.created", "announcement": {...}}``. ``X-Tracker-Delivery`` is the
  same on every retry of one delivery, so receivers can dedupe; ``X-Tracker-Timestamp`` is the
  Unix time of the attempt. With a ``secret``, ``X-Tracker-Signature: sha256=<hex>`` is the
  HMAC-SHA256 of ``<delivery id>.<timestamp>.<body>`` (as Stripe and Standard Webhooks sign):
  the timestamp is signed, so a receiver that refuses old timestamps (say, older than five
  minutes) and delivery ids it has seen defeats a replayed capture. A webhook without a secret
  is sent unsigned, with a warning once per run.

Both retry connection errors, timeouts, 429 and 5xx with exponential backoff (``Retry-After``
honoured up to ``MAX_RETRY_WAIT``); other 4xx are final. A failed push is logged and
reported, never raised: the feeds are already published and the next run goes on. Hub and
webhook URLs often carry a token: they are logged and reported masked (`tracker.redact.mask_url`).

Webhooks are configured in ``config/webhooks.toml`` as ``[[webhook]]`` tables with ``url``,
optional ``services``, ``events`` (lists of strings) and ``secret``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from tracker.config import http_url, load_tables, non_empty, setting
from tracker.items import AnnouncementRecord
from tracker.redact import mask_url
from tracker.sources import net

log = logging.getLogger(__name__)

MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True)
class Webhook:
    """One webhook receiver and what it wants to hear about (a [[webhook]] table of webhooks.toml)."""

    url: str = setting(check=http_url)
    services: frozenset[str] = setting(frozenset())  # lowercase slugs or names; empty: every service
    events: frozenset[str] = setting(frozenset())  # lowercase slugs or names; empty: every event (and none)
    secret: str | None = setting(None, check=non_empty)

    def wants(self, record: AnnouncementRecord) -> bool:
        """Whether this announcement passes the webhook's service and event filters."""
        if self.services:
            names = {s.slug.lower() for s in record.services} | {s.name.lower() for s in record.services}
            if not names & self.services:
                return False
        if self.events:
            names = {v.lower() for v in (record.event_slug, record.event) if v}
            if not names & self.events:
                return False
        return True


@dataclass
class Delivery:
    """The outcome of one POST (after its retries)."""

    target: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


@dataclass
class PushReport:
    """What a push did: the hub ping (if any) and every webhook delivery."""

    hub: Delivery | None = None
    webhooks: list[Delivery] = field(default_factory=list)

    @property
    def failed(self) -> list[Delivery]:
        """Deliveries that did not succeed."""
        return [d for d in [self.hub, *self.webhooks] if d is not None and not d.ok]


def load_webhooks(path: Path) -> tuple[Webhook, ...]:
    """The [[webhook]] tables of a webhooks.toml (none when the file does not exist)."""
    return tuple(load_tables(path, "webhook", Webhook))


def announcement_payload(record: AnnouncementRecord) -> dict[str, Any]:
    """The JSON a webhook receives for one announcement (the API's fields)."""
    return record.as_dict()


def signature(secret: str, body: bytes, *, delivery_id: str, timestamp: int) -> str:
    """The X-Tracker-Signature value: sha256=<hex HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class Pusher:
    """POSTs with retries; one httpx client per pusher (one run)."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retries = max(0, retries)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self._warned: set[str] = set()  # webhooks without a secret already warned about
        self.timeout = timeout
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent})
        # As for fetches (tracker.sources.net): each attempt ends within `timeout` however slowly
        # the receiver answers, and no receiver's name may resolve to a cloud metadata address
        # unless its URL names that address. `_hosts` grows with the URLs posted to.
        self._hosts: set[str] = set()
        self._scope = net.Scope()
        net.install(self.client, self._scope, trusted=self._hosts)

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        sign: Callable[[int], dict[str, str]] | None = None,
    ) -> Delivery:
        """POST with retries on connection errors, timeouts, 429 and 5xx; `sign(now)` adds headers per attempt."""
        status: int | None = None
        error: str | None = None
        shown = mask_url(url)  # the URL as logged and reported: its token or password masked
        for attempt in range(1, self.retries + 2):
            wait = self.backoff * 2 ** (attempt - 1)
            # Each attempt carries its own time: a retry after a backoff is not an "old" delivery.
            sent = {**headers, **sign(int(self.clock()))} if sign else headers
            host = urlsplit(url).hostname
            if host:
                self._hosts.add(host.lower())
            try:
                with self._scope.request(time.monotonic() + max(self.timeout, 0.0)):
                    # Only the status and headers are read: a receiver's body (a bomb, a drip) is never.
                    with self.client.stream("POST", url, content=content, headers=sent) as response:
                        status = response.status_code
                        retry_after = response.headers.get("Retry-After", "")
            except httpx.TimeoutException as exc:
                status, error = None, f"timeout: {exc.__class__.__name__} (push.timeout {self.timeout:g} s)"
            except net.AddressRefused as exc:
                status, error = None, f"refused: {exc}"
                break
            except httpx.TransportError as exc:
                status, error = None, f"connect: {exc.__class__.__name__}: {str(exc).replace(url, shown)}"
            else:
                if 200 <= status < 300:
                    return Delivery(target=shown, ok=True, attempts=attempt, status=status)
                error = f"HTTP {status}"
                if status != 429 and status < 500:
                    break  # the receiver refuses this request: repeating it changes nothing
                if retry_after.isdigit():
                    if float(retry_after) > MAX_RETRY_WAIT:
                        break
                    wait = max(wait, float(retry_after))
            if attempt <= self.retries:
                log.info("push to %s failed (%s); retrying in %.1fs", shown, error, wait)
                self.sleep(wait)
        log.warning(
            "push to %s failed after %d attempts: %s; check that the receiver is up and accepts the request",
            shown,
            attempt,
            error,
        )
        return Delivery(target=shown, ok=False, attempts=attempt, status=status, error=error)

    def ping_hub(self, hub: str, topics: Sequence[str]) -> Delivery:
        """Tell a WebSub hub that these feed URLs changed (one POST, hub.url repeated)."""
        body = urlencode([("hub.mode", "publish"), *(("hub.url", t) for t in topics)]).encode()
        return self.post(hub, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})

    def send(self, hook: Webhook, record: AnnouncementRecord) -> Delivery:
        """One webhook delivery of one new announcement."""
        body = json.dumps(
            {"type": "announcement.created", "announcement": announcement_payload(record)},
            ensure_ascii=False,
            sort_keys=True,
        ).encode("utf-8")
        delivery_id = hashlib.sha256(f"{hook.url}\n{record.key}".encode()).hexdigest()[:32]
        headers = {
            "Content-Type": "application/json",
            "X-Tracker-Event": "announcement.created",
            "X-Tracker-Delivery": delivery_id,
        }
        secret = hook.secret

        def sign(now: int) -> dict[str, str]:
            stamped = {"X-Tracker-Timestamp": str(now)}
            if secret:
                stamped["X-Tracker-Signature"] = signature(secret, body, delivery_id=delivery_id, timestamp=now)
            return stamped

        if not secret and hook.url not in self._warned:
            self._warned.add(hook.url)
            log.warning(
                "webhook %s has no secret: its deliveries are sent unsigned, so the receiver cannot "
                'tell them from forged ones; add secret = "..." to its [[webhook]] in webhooks.toml',
                mask_url(hook.url),
            )
        return self.post(hook.url, content=body, headers=headers, sign=sign)


def push(
    pusher: Pusher,
    *,
    hub: str | None,
    changed_feeds: Iterable[str],
    webhooks: Sequence[Webhook],
    new_announcements: Sequence[AnnouncementRecord],
) -> PushReport:
    """Ping the hub about the changed feeds and send each new announcement to the webhooks that want it."""
    report = PushReport()
    topics = sorted(set(changed_feeds))
    if hub and topics:
        report.hub = pusher.ping_hub(hub, topics)
    for record in new_announcements:
        for hook in webhooks:
            if hook.wants(record):
                report.webhooks.append(pusher.send(hook, record))
    if report.hub or report.webhooks:
        log.info(
            "push: hub %s, %d webhook deliveries, %d failed",
            "pinged" if report.hub else "not configured or nothing changed",
            len(report.webhooks),
            len(report.failed),
        )
    return report
