"""Where outgoing HTTP (webhooks) may go: public addresses only unless allowed, pinned at connect.

The rule is checked twice, on purpose:
- when a URL is registered (`check_url`), so a user learns at once that a target is refused;
- when a request is made (`open_connection`), on the addresses the name resolves to *then*,
  and the socket connects to exactly the address that passed the check. A name that resolved
  to a public address at registration and to 127.0.0.1 a second later (DNS rebinding) reaches
  nothing inside: there is no second lookup between the check and the connect.
The Host header and the TLS server name (SNI, certificate check) stay the URL's host name.
No redirect is ever followed (http.client does not), so a 3xx cannot lead inside either.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host name, port) -> the IP addresses it resolves to, as strings; raises OSError.
Resolver = Callable[[str, int], list[str]]

# Cloud metadata services: never a webhook target, even with allow_private (an allowlist entry
# naming them explicitly still allows them).
METADATA = tuple(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


class TargetRefused(ValueError):
    """The target's address is not one outgoing requests may reach; the message says why."""


@dataclass(frozen=True)
class TargetPolicy:
    """Which non-public addresses are allowed: none by default."""

    allow_private: bool = False  # every non-public address except cloud metadata
    allow_networks: tuple[Network, ...] = ()  # these networks, whatever they are

    @classmethod
    def from_settings(cls, settings: object) -> TargetPolicy:
        return cls(
            allow_private=bool(getattr(settings, "webhook_allow_private", False)),
            allow_networks=tuple(getattr(settings, "webhook_allow_networks", ())),
        )


STRICT = TargetPolicy()


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_kind(ip: Address) -> str | None:
    """What kind of non-public address ip is ("loopback", "private"...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            kind = address_kind(mapped)
            return None if kind is None else f"{kind} (IPv4 inside IPv6)"
    if ip in METADATA:
        return "cloud metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved (not public)"
    return None


def refusal(ip: Address, policy: TargetPolicy) -> str | None:
    """Why the policy refuses ip ("a loopback address"), or None when it may be reached."""
    if any(ip in network for network in policy.allow_networks if network.version == ip.version):
        return None
    kind = address_kind(ip)
    if kind is None:
        return None
    if policy.allow_private and ip not in METADATA:
        return None
    return f"a {kind} address"


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_host(
    host: str, port: int, policy: TargetPolicy, resolve: Resolver = system_resolve
) -> list[Address]:
    """The addresses host may be reached at; raise TargetRefused if any of them is refused.

    Raises OSError when the name does not resolve (the caller decides what that means).
    """
    name = host.rstrip(".").lower()
    literal = _literal(name)
    loopback_name = name == "localhost" or name.endswith(".localhost")
    # RFC 6761: localhost names are always loopback, whatever a resolver says.
    if literal is None and loopback_name and refusal(ipaddress.ip_address("127.0.0.1"), policy):
        raise TargetRefused(f"{host} is a loopback name")
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [ipaddress.ip_address(a) for a in resolve(name, port)]
    if not addresses:
        raise OSError(f"{host} has no address")
    for ip in addresses:
        reason = refusal(ip, policy)
        if reason is not None:
            if literal is None:
                raise TargetRefused(f"{host} resolves to {ip}, {reason}")
            raise TargetRefused(f"{ip} is {reason}")
    return addresses


def check_url(url: str, policy: TargetPolicy, resolve: Resolver = system_resolve) -> None:
    """At registration: refuse a URL whose host is, or resolves to, a refused address.

    A name that does not resolve (yet) is accepted: it reaches nothing, and every delivery
    checks again.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        check_host(parts.hostname or "", port, policy, resolve)
    except OSError:
        return


class _PinnedHTTP(HTTPConnection):
    """An HTTP connection to one checked address; Host stays the URL's host name."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned, self.port), self.timeout)


class _PinnedHTTPS(HTTPSConnection):
    """TLS to one checked address, with the URL's host name for SNI and the certificate."""

    def __init__(
        self, host: str, port: int | None, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.pinned = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def open_connection(
    url: str,
    timeout: float,
    policy: TargetPolicy,
    resolve: Resolver = system_resolve,
    context: ssl.SSLContext | None = None,
) -> HTTPConnection:
    """A connection (not yet connected) pinned to the first allowed address of the URL's host.

    Raises TargetRefused, or OSError when the host does not resolve.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    addresses: Sequence[Address] = check_host(host, port, policy, resolve)
    address = str(addresses[0])
    if https:
        return _PinnedHTTPS(host, port, address, timeout, context or ssl.create_default_context())
    return _PinnedHTTP(host, port, address, timeout)
