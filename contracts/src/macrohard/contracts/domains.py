"""How a domain list matches a host: one rule for every service that checks one."""

from __future__ import annotations

from collections.abc import Iterable


def host_in_allowlist(host: str, allowed_domains: Iterable[str]) -> bool:
    """`example.com` allows itself and its subdomains; `*.example.com` only subdomains."""
    host = host.lower().rstrip(".")
    for entry in allowed_domains:
        domain = entry.strip().lower().rstrip(".")
        if not domain:
            continue
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return True
        elif host == domain or host.endswith("." + domain):
            return True
    return False
