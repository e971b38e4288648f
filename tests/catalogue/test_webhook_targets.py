"""Where webhooks may go: every address is judged by where it routes to (IPv6 forms that carry
an IPv4 address by that address), ports are 80 and 443 unless the operator lists others, and a
delivery goes to the address that was checked, never to one looked up again.

Names are resolved by a stand-in for DNS that the test controls; the positive case sends to a
receiver on loopback, which only an operator's ``allow_private_targets`` permits. Nothing here
connects anywhere but loopback.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from wildlens.catalogue.alerts.delivery import post_to
from wildlens.catalogue.alerts.targets import Address, TargetPolicy, TargetRefused, policy_of
from wildlens.catalogue.settings import AlertSettings
from wildlens.common.service import platform_settings

# URL → why it is refused (a word of the reason), with the default rules.
REFUSED: list[tuple[str, str]] = [
    ("http://127.0.0.1/hook", "private or reserved"),
    ("http://127.1.2.3/hook", "private or reserved"),
    ("http://0.0.0.0/hook", "private or reserved"),
    ("http://10.1.2.3/hook", "private or reserved"),
    ("http://100.64.0.1/hook", "private or reserved"),
    ("http://169.254.169.254/latest/meta-data/", "private or reserved"),
    ("http://172.16.0.1/hook", "private or reserved"),
    ("http://192.168.1.1/hook", "private or reserved"),
    ("http://192.0.2.1/hook", "private or reserved"),
    ("http://198.18.0.1/hook", "private or reserved"),
    ("http://224.0.0.1/hook", "private or reserved"),
    ("http://240.0.0.1/hook", "private or reserved"),
    ("http://255.255.255.255/hook", "private or reserved"),
    ("http://[::1]/hook", "private or reserved"),
    ("http://[::]/hook", "private or reserved"),
    ("http://[fe80::1]/hook", "private or reserved"),
    ("http://[fc00::1]/hook", "private or reserved"),
    ("http://[fd12:3456::1]/hook", "private or reserved"),
    ("http://[ff02::1]/hook", "private or reserved"),
    ("http://[2001:db8::1]/hook", "private or reserved"),
    ("http://[100::1]/hook", "private or reserved"),
    # IPv4-mapped, in both spellings.
    ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1"),
    ("http://[::ffff:7f00:1]/hook", "127.0.0.1"),
    ("http://[::ffff:a9fe:a9fe]/hook", "169.254.169.254"),
    # IPv4-compatible (deprecated, still parsed).
    ("http://[::127.0.0.1]/hook", "127.0.0.1"),
    ("http://[::a00:1]/hook", "10.0.0.1"),
    # NAT64, the well-known prefix and the local-use one.
    ("http://[64:ff9b::7f00:1]/hook", "127.0.0.1"),
    ("http://[64:ff9b::10.0.0.1]/hook", "10.0.0.1"),
    ("http://[64:ff9b:1::7f00:1]/hook", "local-use NAT64"),
    ("http://[64:ff9b:1:ffff::8.8.8.8]/hook", "local-use NAT64"),
    # 6to4: the IPv4 address in bits 16 to 48.
    ("http://[2002:7f00:1::]/hook", "127.0.0.1"),
    ("http://[2002:c0a8:101::1]/hook", "192.168.1.1"),
    # Teredo: server and (obfuscated) client.
    ("http://[2001:0:7f00:1::1]/hook", "127.0.0.1"),
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook", "10.0.0.1"),
    # Public addresses on other ports.
    ("http://93.184.216.34:8080/hook", "port 8080"),
    ("https://93.184.216.34:22/hook", "port 22"),
    ("http://[2606:2800:220:1:248:1893:25c8:1946]:6379/hook", "port 6379"),
    # Not a web URL at all.
    ("ftp://93.184.216.34/hook", "http or https"),
    ("file:///etc/passwd", "http or https"),
]

# Public addresses, including IPv6 forms that carry a public IPv4 address.
ACCEPTED = [
    "https://93.184.216.34/hook",
    "http://93.184.216.34:80/hook",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    "https://[64:ff9b::5db8:d822]/hook",
    "https://[2002:5db8:d822::1]/hook",
    "https://[::ffff:93.184.216.34]/hook",
]


@dataclass
class StandInDns:
    """Answers names from a table, and notes every question."""

    table: dict[str, list[str]]
    asked: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[Address]:
        self.asked.append((host, port))
        if host not in self.table:
            raise OSError(f"{host} is not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


async def refused(policy: TargetPolicy, url: str) -> str:
    """Why ``policy`` refuses ``url`` (failing when it does not)."""
    reason = await policy.refusal(url)
    assert reason is not None, f"{url} was accepted"
    return reason


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_private_reserved_and_embedded_addresses_and_other_ports_are_refused(
    url: str, why: str
) -> None:
    policy = TargetPolicy(resolve=StandInDns({}))
    reason = await refused(policy, url)
    assert why in reason
    with pytest.raises(TargetRefused):
        await policy.target(url)


@pytest.mark.parametrize("url", ACCEPTED)
async def test_public_addresses_on_web_ports_are_accepted(url: str) -> None:
    assert await TargetPolicy(resolve=StandInDns({})).refusal(url) is None


async def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    dns = StandInDns(
        {
            "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
            "rebound.example": ["93.184.216.34", "64:ff9b::a9fe:a9fe"],
            "sixtofour.example": ["2002:7f00:1::1"],
        }
    )
    policy = TargetPolicy(resolve=dns)
    assert await policy.refusal("https://public.example/hook") is None
    reason = await refused(policy, "https://rebound.example/hook")
    assert "169.254.169.254" in reason
    reason = await refused(policy, "https://sixtofour.example/hook")
    assert "127.0.0.1" in reason
    reason = await refused(policy, "https://unknown.example/hook")
    assert "does not resolve" in reason
    # A port that is not allowed is refused before the name is looked up at all.
    asked = len(dns.asked)
    reason = await refused(policy, "https://public.example:8443/hook")
    assert "port 8443" in reason
    assert len(dns.asked) == asked


async def test_the_operator_names_the_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WILDLENS_ALERTS__ALLOWED_PORTS", "[443, 8443]")
    settings = AlertSettings.of(platform_settings()())
    assert settings.allowed_ports == [443, 8443]
    policy = policy_of(settings)
    assert await policy.refusal("https://93.184.216.34:8443/hook") is None
    reason = await refused(policy, "http://93.184.216.34/hook")
    assert "443, 8443" in reason
    assert "WILDLENS_ALERTS__ALLOWED_PORTS" in reason
    with pytest.raises(ValueError, match="65535"):
        AlertSettings(allowed_ports=[0, 443])
    # Allowing private targets lifts the address and the port rules alike.
    lifted = policy_of(AlertSettings(allow_private_targets=True, allowed_ports=[443]))
    assert await lifted.refusal("http://127.0.0.1:8080/hook") is None


@dataclass
class Receiver:
    port: int
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback that notes the headers of what it gets."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_delivery_goes_to_the_address_checked_with_the_name_as_host(
    receiver: Receiver,
) -> None:
    # The name exists only in the stand-in: had the client looked it up again itself, the
    # system's resolver would not know it and nothing would arrive. Nothing listens on the
    # first address (the receiver is on 127.0.0.1 only), so the delivery goes on to the next
    # address that was checked.
    name = f"receiver.wildlens.test:{receiver.port}"
    dns = StandInDns({"receiver.wildlens.test": ["127.0.0.3", "127.0.0.1"]})
    policy = TargetPolicy(allow_private=True, resolve=dns)
    target = await policy.target(f"http://{name}/hooks/wildlens")
    assert dns.asked == [("receiver.wildlens.test", receiver.port)]
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await post_to(client, target, b"{}", {"Content-Type": "application/json"})
    assert response.status_code == 200
    (headers,) = receiver.seen
    assert headers["host"] == name
    assert dns.asked == [("receiver.wildlens.test", receiver.port)]


async def test_without_the_operators_leave_loopback_names_are_refused(
    receiver: Receiver,
) -> None:
    dns = StandInDns({"receiver.wildlens.test": ["127.0.0.1"]})
    policy = TargetPolicy(allowed_ports=(receiver.port,), resolve=dns)
    with pytest.raises(TargetRefused, match="private or reserved"):
        await policy.target(f"http://receiver.wildlens.test:{receiver.port}/hook")
    assert receiver.seen == []
