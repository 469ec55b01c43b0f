"""The one address policy: where the platform may send a request on someone else's say-so.

Tenants name URLs (a task's start page, a webhook) and pages and models name more (links,
redirects). Every component that dials such a URL (the actuator's browser guard and egress
proxy, the gateway's webhook sender) decides here, so an attacker cannot find the one that
reads a URL differently:

- URLs are parsed the WHATWG way (ada, the parser Node uses, conformant with Chromium's), so
  `https://evil.com\\@example.com/` is evil.com for us as for the browser, and the numeric
  host forms a browser or libc accepts (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`)
  arrive here already normalised to the dotted address they dial.
- An address is refused when it is not a public unicast one: loopback, private, link-local,
  CGNAT (100.64/10), unspecified, multicast, reserved, cloud metadata (169.254.169.254,
  fd00:ec2::254, ...), and any IPv6 form embedding a refused IPv4 one (mapped, 6to4, NAT64).
- A host name is resolved once, every address it resolves to is checked, and the caller
  connects to the address that was checked (`pinned_address`): a second lookup could be
  answered differently (DNS rebinding).

Pure functions first; `Resolver` and `pinned_address` are the only I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import ada_url

from macrohard.contracts.domains import host_in_allowlist as host_in_allowlist

NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})

# Cloud metadata endpoints, also reachable through public-looking names or IPv6 forms.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6 IMDS
    }
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DNS_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class UrlVerdict:
    """Whether a request may go out, and why not (shown to whoever asked for it)."""

    allowed: bool
    reason: str = ""

    @staticmethod
    def ok() -> UrlVerdict:
        return UrlVerdict(True)

    @staticmethod
    def refuse(reason: str) -> UrlVerdict:
        return UrlVerdict(False, reason)


class EgressRefused(ValueError):
    """A URL or address the policy refuses; `reason` says which rule."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    """A URL as the browser reads it: scheme without ':', host without brackets."""

    scheme: str
    host: str
    port: int
    href: str
    has_credentials: bool


def parse_url(url: str) -> Target:
    """Parse with the WHATWG URL standard; raise EgressRefused when it is not a URL."""
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        raise EgressRefused(f"malformed URL: {url[:200]!r}") from None
    scheme = parsed.protocol.rstrip(":").lower()
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(scheme, 0)
    return Target(
        scheme=scheme,
        host=parsed.hostname.strip("[]").lower(),
        port=int(parsed.port) if parsed.port else default,
        href=parsed.href,
        has_credentials=bool(parsed.username or parsed.password),
    )


def address_refusal(address: str) -> str:
    """Why an IP address must not be contacted ('' when it is a public unicast address)."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(str(embedded))
    if ip in METADATA_ADDRESSES:
        return f"cloud metadata address {ip}"
    if ip.is_loopback:
        return f"loopback address {ip}"
    if ip.is_link_local:
        return f"link-local address {ip}"
    if ip.is_unspecified:
        return f"unspecified address {ip}"
    if ip.is_multicast:
        return f"multicast address {ip}"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return f"shared (carrier-grade NAT) address {ip}"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return f"private or reserved address {ip}"
    return ""


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def literal_address(host: str) -> str | None:
    """The host as an IP address when it is one (after WHATWG normalisation), else None."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return None
    return bare


def _address_verdict(address: str, allow_loopback: bool) -> str:
    # allow_loopback exists for local test mode only (tests serve their pages on 127.0.0.1);
    # private, link-local and metadata addresses stay refused even then.
    if allow_loopback and is_loopback(address):
        return ""
    return address_refusal(address)


def check_target(
    target: Target, allowed_domains: Sequence[str] | None, *, allow_loopback: bool = False
) -> UrlVerdict:
    """Decide on a parsed network URL before any DNS lookup.

    `allowed_domains`: None when nobody vouches for any domain (refuse every name); an
    empty list sets no domain limit (the address rules still hold).
    """
    if target.scheme not in NETWORK_SCHEMES:
        return UrlVerdict.refuse(f"scheme {target.scheme or '(none)'}: is not allowed")
    if not target.host:
        return UrlVerdict.refuse("URL has no host")
    if target.has_credentials:
        return UrlVerdict.refuse("credentials in URLs are not allowed")
    if target.host.rstrip(".") in METADATA_HOSTS:
        return UrlVerdict.refuse(f"cloud metadata host {target.host}")
    literal = literal_address(target.host)
    if literal is not None:
        reason = _address_verdict(literal, allow_loopback)
        if reason:
            return UrlVerdict.refuse(reason)
    if allowed_domains is None:
        return UrlVerdict.refuse("no domain is allowed here")
    if allowed_domains and not host_in_allowlist(target.host, allowed_domains):
        return UrlVerdict.refuse(f"host {target.host} is not in the tenant's allowed domains")
    return UrlVerdict.ok()


def check_resolved(host: str, addresses: Sequence[str], *, allow_loopback: bool) -> UrlVerdict:
    """Decide on what a host name resolved to: every address must be public."""
    if not addresses:
        return UrlVerdict.refuse(f"host {host} does not resolve")
    for address in addresses:
        reason = _address_verdict(address, allow_loopback)
        if reason:
            return UrlVerdict.refuse(f"host {host} resolves to {reason}")
    return UrlVerdict.ok()


class Resolver:
    """getaddrinfo with a short cache (a page loads many resources from one host)."""

    def __init__(self, ttl_s: float = DNS_TTL_S) -> None:
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def resolve(self, host: str) -> list[str]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        hit = self._cache.get(host)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError):
            addresses: list[str] = []
        else:
            addresses = sorted({str(info[4][0]) for info in infos})
        self._cache[host] = (time.monotonic() + self._ttl, addresses)
        return addresses


async def pinned_address(
    target: Target, resolver: Resolver, *, allow_loopback: bool = False
) -> str:
    """Resolve the target's host once and return the checked address to dial.

    Raises EgressRefused when any address it resolves to is refused. IPv4 is preferred:
    the one address returned is the one the caller must connect to.
    """
    addresses = await resolver.resolve(target.host)
    verdict = check_resolved(target.host, addresses, allow_loopback=allow_loopback)
    if not verdict.allowed:
        raise EgressRefused(verdict.reason)
    ipv4 = [a for a in addresses if ":" not in a]
    return (ipv4 or addresses)[0]
