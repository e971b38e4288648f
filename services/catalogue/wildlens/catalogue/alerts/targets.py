"""Where a webhook may point: public addresses only, unless the operator allows others.

A webhook URL is chosen by a project manager but fetched by the catalogue, from inside the
platform's network: pointed at a loopback, private, link-local or otherwise reserved address
(a cloud metadata service, the database, the cluster's own APIs) it would make the catalogue
a way in. The host is resolved and every address it resolves to is checked, when a rule is
saved and again before each delivery (a name may resolve elsewhere later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = ["ALLOW_SETTING", "refused_target"]

ALLOW_SETTING = "WILDLENS_ALERTS__ALLOW_PRIVATE_TARGETS=true"


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # getaddrinfo answers IPv6 addresses with a zone index ("fe80::1%eth0").
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def refused_target(url: str, *, allow_private: bool) -> str | None:
    """Why the catalogue will not send to ``url``, or None when it will."""
    if allow_private:
        return None
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "webhook_url has no host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await _addresses(host, port)
    except OSError as exc:
        return f"webhook_url's host {host} does not resolve ({exc.strerror or exc})"
    private = sorted({str(a) for a in addresses if _private(a)})
    if private:
        return (
            f"webhook_url's host {host} is a private or reserved address ({', '.join(private)});"
            f" an operator can allow such targets with {ALLOW_SETTING}"
        )
    return None
