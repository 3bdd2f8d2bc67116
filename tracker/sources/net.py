"""The sockets under the fetcher: addresses checked after DNS, and a deadline on every read.

`GuardedBackend` is the httpcore network backend of `Fetcher`'s client. It

* resolves the host itself and refuses link-local and cloud-metadata addresses
  (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, 168.63.129.16), whatever name
  led there, unless the configured source names that very address (``http://169.254.169.254/``
  in sources.toml); it then connects to the address it checked, so a name cannot resolve
  to one address for the check and another for the connection (DNS rebinding);
* gives every read, write and TLS handshake a timeout of at most the time left before the
  request's deadline (`http.max_seconds`), so a server dripping its headers or body one byte
  at a time is cut at the deadline, not when a 64 KiB chunk completes;
* for robots.txt, whose redirects are followed to other hosts (RFC 9309), refuses loopback and
  private addresses on hosts that are not configured sources when the redirecting site itself
  is public: a public site cannot point the fetcher into the local network.

The deadline and the robots.txt policy of the request in progress live in a `Scope`, per thread
(requests run on the caller's thread; `tracker.sources.prefetch` runs several at once).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
import typing
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

import httpcore
from httpcore._backends.sync import SyncStream  # the stock socket stream, reused as is

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Never fetched unless a configured source names the address itself: instance metadata
# services hand out cloud credentials to whoever asks from inside the machine.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # IPv4 link-local: AWS, GCP, Azure, OpenStack metadata at 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure WireServer
    )
)

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class AddressRefused(Exception):
    """A connection was refused before it was made: the host resolves to an address we never fetch."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address}, {why}")
        self.host = host
        self.address = address
        self.why = why


def parse_ip(text: str) -> IPAddress | None:
    """The IP address a host or socket address string is, or None for a name."""
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    return ip


def is_blocked(ip: IPAddress) -> bool:
    """Whether an address is link-local or a cloud metadata service."""
    return any(ip.version == net.version and ip in net for net in BLOCKED_NETWORKS)


@dataclass
class _Request:
    deadline: float | None = None
    robots: bool = False  # robots.txt: redirects to other hosts are followed, checked by address
    private_ok: bool = False  # the robots.txt request started on a non-public address
    expired: bool = False  # a timeout was cut short by the deadline


class Scope:
    """The deadline and policy of the request in progress on each thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._local = threading.local()
        self.clock = clock

    @property
    def current(self) -> _Request:
        """This thread's request (a default one outside `request`)."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = _Request()
        return typing.cast(_Request, request)

    @contextlib.contextmanager
    def request(self, deadline: float, *, robots: bool = False) -> Iterator[_Request]:
        """Run one request (and its redirects) under this deadline."""
        previous = getattr(self._local, "request", None)
        self._local.request = state = _Request(deadline=deadline, robots=robots)
        try:
            yield state
        finally:
            self._local.request = previous

    def limit(self, timeout: float | None, error: type[Exception]) -> float | None:
        """The timeout for one socket operation: at most the time left; `error` once none is left."""
        state = self.current
        if state.deadline is None:
            return timeout
        left = state.deadline - self.clock()
        if left <= 0:
            state.expired = True
            raise error("the deadline (http.max_seconds) has passed")
        # Whether this operation, if it times out, was cut short by the deadline.
        state.expired = timeout is None or left < timeout
        return left if state.expired else timeout


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, scope: Scope) -> None:
        self._inner = inner
        self._scope = scope

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._scope.limit(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._scope.limit(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._scope.limit(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._scope)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend with address checks after DNS and the per-request deadline."""

    def __init__(self, scope: Scope, *, trusted: Collection[str] = (), check_addresses: bool = True) -> None:
        """`trusted`: configured hosts, lower-case, kept by reference; `check_addresses` False for proxies."""
        self.scope = scope
        self.trusted = trusted
        self.check_addresses = check_addresses

    def permitted(self, host: str, ip: IPAddress) -> str | None:
        """None when `host` may be reached at `ip`, else why not."""
        if not self.check_addresses:
            return None
        named = parse_ip(host)
        if is_blocked(ip) and not (named == ip and host.lower().strip("[]") in self.trusted):
            return (
                "a link-local or cloud-metadata address, which is never fetched unless a source in "
                "sources.toml names that address itself"
            )
        state = self.scope.current
        if state.robots and host.lower() not in self.trusted and not ip.is_global and not state.private_ok:
            return (
                "a loopback or private address, to which a public site's robots.txt may not redirect; "
                "the robots.txt is treated as unavailable"
            )
        return None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self.scope.limit(timeout, httpcore.ConnectTimeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        refused: AddressRefused | None = None
        last: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            ip = parse_ip(str(sockaddr[0]))
            why = self.permitted(host, ip) if ip is not None else None
            if why is not None:
                refused = AddressRefused(host, str(sockaddr[0]), why)
                continue
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                if local_address is not None:
                    sock.bind((local_address, 0))
                sock.connect(sockaddr)  # the address checked above, not a second resolution
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except TimeoutError:
                sock.close()
                raise httpcore.ConnectTimeout(f"connecting to {host} port {port} timed out") from None
            except OSError as exc:
                sock.close()
                last = exc
                continue
            return _DeadlineStream(SyncStream(sock), self.scope)
        if refused is not None and last is None:
            raise refused
        raise httpcore.ConnectError(str(last) if last else f"no address for {host}")


def install(client: typing.Any, scope: Scope, *, trusted: Collection[str]) -> None:
    """Put a `GuardedBackend` under every transport of an httpx client (proxied ones without address checks)."""
    transports = [(client._transport, True)] + [(t, False) for t in client._mounts.values() if t is not None]
    for transport, direct in transports:
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "_network_backend"):
            # Refuse to run without the guard rather than silently lose the deadline.
            raise RuntimeError(f"cannot install the network guard on {type(transport).__name__}")
        pool._network_backend = GuardedBackend(scope, trusted=trusted, check_addresses=direct)
