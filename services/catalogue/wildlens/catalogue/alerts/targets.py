"""Where a webhook may point: public addresses on the allowed ports only, unless the operator
allows every target; and the address that was checked is the one connected to.

A webhook URL is chosen by a project manager but fetched by the catalogue, from inside the
platform's network: pointed at a loopback, private, link-local or otherwise reserved address
(a cloud metadata service, the database, the cluster's own APIs) it would make the catalogue
a way in. So an address is judged by where it routes to: an IPv6 address that carries an IPv4
one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``, Teredo ``2001::/32``) is judged by the IPv4 address it carries, and the
local-use NAT64 prefix ``64:ff9b:1::/48`` is refused outright. Ports are 80 and 443 unless the
operator lists others (``WILDLENS_ALERTS__ALLOWED_PORTS``).

The host is resolved once per use, every address it resolves to is checked, and the request
is then sent to one of those addresses (with the name in ``Host`` and in TLS's SNI, and the
certificate checked against the name): a name that resolves elsewhere a moment later (DNS
rebinding) cannot slip a private address in between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from wildlens.catalogue.settings import AlertSettings

__all__ = [
    "ALLOW_SETTING",
    "PORTS_SETTING",
    "Address",
    "Resolver",
    "Target",
    "TargetPolicy",
    "TargetRefused",
    "address_refusal",
    "policy_of",
    "system_resolver",
]

ALLOW_SETTING = "WILDLENS_ALERTS__ALLOW_PRIVATE_TARGETS=true"
PORTS_SETTING = "WILDLENS_ALERTS__ALLOWED_PORTS"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses the host resolves to.
Resolver = Callable[[str, int], Awaitable[list[Address]]]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IPv4 ranges that are not the public internet (RFC 6890 and its updates), beyond what
# ``is_global`` already says, so that the verdict does not depend on the Python version.
_IPV4_REFUSED = [
    _V4("0.0.0.0/8"),
    _V4("10.0.0.0/8"),
    _V4("100.64.0.0/10"),
    _V4("127.0.0.0/8"),
    _V4("169.254.0.0/16"),
    _V4("172.16.0.0/12"),
    _V4("192.0.0.0/24"),
    _V4("192.0.2.0/24"),
    _V4("192.88.99.0/24"),
    _V4("192.168.0.0/16"),
    _V4("198.18.0.0/15"),
    _V4("198.51.100.0/24"),
    _V4("203.0.113.0/24"),
    _V4("224.0.0.0/4"),
    _V4("240.0.0.0/4"),
]
_MAPPED = _V6("::ffff:0:0/96")
_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
# IPv6 ranges that are not the public internet, the embedding prefixes above aside.
_IPV6_REFUSED = [
    _V6("::/128"),
    _V6("::1/128"),
    _V6("100::/64"),
    _V6("2001:2::/48"),
    _V6("2001:10::/28"),
    _V6("2001:20::/28"),
    _V6("2001:db8::/32"),
    _V6("3fff::/20"),
    _V6("5f00::/16"),
    _V6("fc00::/7"),
    _V6("fe80::/10"),
    _V6("fec0::/10"),
    _V6("ff00::/8"),
]


def _carried(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address routes to, for the forms that carry one."""
    if address in _MAPPED:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)]
    if address in _TEREDO:
        server, client = address.teredo or (None, None)
        return [a for a in (server, client) if a is not None]
    if address in _COMPATIBLE and int(address) > 1:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return None


def _ipv4_refusal(address: ipaddress.IPv4Address) -> str | None:
    if any(address in network for network in _IPV4_REFUSED):
        return "a private or reserved address"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "a private or reserved address"
    return None


def address_refusal(address: Address) -> str | None:
    """Why the catalogue will not connect to ``address``, or None when it is public."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_refusal(address)
    if address.scope_id:
        return "a private or reserved address"
    if address in _NAT64_LOCAL:
        return "a private or reserved address (local-use NAT64)"
    carried = _carried(address)
    if carried is not None:
        for inner in carried:
            refused = _ipv4_refusal(inner)
            if refused is not None:
                return f"{refused} ({inner}, which it carries)"
        return None
    if any(address in network for network in _IPV6_REFUSED):
        return "a private or reserved address"
    if not address.is_global or address.is_multicast:
        return "a private or reserved address"
    return None


async def system_resolver(host: str, port: int) -> list[Address]:
    """The addresses the operating system resolves ``host`` to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # getaddrinfo answers IPv6 addresses with a zone index ("fe80::1%eth0"), which is kept:
    # an address with one is link-local, and refused as such.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0])) for info in infos))


class TargetRefused(Exception):
    """The catalogue will not send to this URL; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the checked addresses, and the name they were resolved for."""

    url: str
    scheme: str
    # The name (or address literal) as the URL gave it, for ``Host`` and TLS.
    host: str
    port: int
    addresses: tuple[Address, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def name_is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class TargetPolicy:
    """The operator's rules for webhook targets, and how names are resolved."""

    # Loopback, private and reserved addresses, on any port: for a receiver on the operator's
    # own machine or network (and for tests).
    allow_private: bool = False
    allowed_ports: Sequence[int] = (80, 443)
    resolve: Resolver = system_resolver

    def _parts(self, url: str) -> tuple[str, str, int]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise TargetRefused("webhook_url must be an http or https URL")
        host = parts.hostname
        if not host:
            raise TargetRefused("webhook_url has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise TargetRefused(f"webhook_url's port is not a port ({exc})") from None
        return parts.scheme, host, port

    def _check_port(self, port: int) -> None:
        if self.allow_private or port in self.allowed_ports:
            return
        allowed = ", ".join(str(p) for p in sorted(self.allowed_ports)) or "none"
        raise TargetRefused(
            f"webhook_url's port {port} is not one webhooks may use ({allowed}); an "
            f"operator can allow others with {PORTS_SETTING}"
        )

    def _check_addresses(self, host: str, addresses: Sequence[Address]) -> None:
        if self.allow_private:
            return
        refused = {str(a): r for a in addresses if (r := address_refusal(a)) is not None}
        if refused:
            which = "; ".join(f"{a}: {r}" for a, r in sorted(refused.items()))
            raise TargetRefused(
                f"webhook_url's host {host} is a private or reserved address ({which}); an "
                f"operator can allow such targets with {ALLOW_SETTING}"
            )

    async def target(self, url: str) -> Target:
        """The checked addresses ``url`` is sent to.

        Raises:
            TargetRefused: the scheme, an address or the port is not allowed, or the host
                does not resolve.
        """
        scheme, host, port = self._parts(url)
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            # What an address is matters more than its port; say that first.
            self._check_addresses(host, [literal])
        # A port that is not allowed is refused before any name is looked up.
        self._check_port(port)
        if literal is not None:
            return Target(url, scheme, host, port, (literal,))
        try:
            addresses = await self.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise TargetRefused(f"webhook_url's host {host} does not resolve ({reason})") from None
        if not addresses:
            raise TargetRefused(f"webhook_url's host {host} does not resolve")
        self._check_addresses(host, addresses)
        return Target(url, scheme, host, port, tuple(addresses))

    async def refusal(self, url: str) -> str | None:
        """Why the catalogue will not send to ``url``, or None when it will. For a rule being
        saved: its host is resolved now, and again at each delivery (where the operator
        allows every target, names are only resolved when a delivery goes out)."""
        try:
            if self.allow_private:
                self._parts(url)
            else:
                await self.target(url)
        except TargetRefused as exc:
            return str(exc)
        return None


def policy_of(settings: AlertSettings) -> TargetPolicy:
    """The operator's rules for webhook targets, from the ``alerts`` settings group."""
    return TargetPolicy(
        allow_private=settings.allow_private_targets, allowed_ports=tuple(settings.allowed_ports)
    )
