"""The actuator's small read of tenants: each tenant's allowed domains, from the log.

Read straight from the tenant aggregate (EventStore.load) with a short cache rather than a
projection: the actuator has no database, and a domain change must reach running tasks
within seconds, not after a read model catches up.
"""

from __future__ import annotations

import time

from macrohard.contracts.envelope import Envelope
from macrohard.contracts.tenancy import TenantDomainsChanged, TenantOnboarded
from macrohard.eventlog.store import EventStore

CACHE_S = 2.0


def evolve_domains(state: tuple[str, ...], env: Envelope) -> tuple[str, ...]:
    event = env.payload
    if isinstance(event, TenantOnboarded | TenantDomainsChanged):
        return tuple(event.allowed_domains)
    return state


class AllowedDomains:
    """Tenant id -> allowed domains. An unknown tenant may browse nowhere."""

    def __init__(self, store: EventStore, cache_s: float = CACHE_S) -> None:
        self._store = store
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def of(self, tenant: str) -> list[str]:
        hit = self._cache.get(tenant)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        # The gateway writes a tenant's events under its own tenant token, id = tenant id.
        nothing: tuple[str, ...] = ()
        loaded = await self._store.load(evolve_domains, nothing, tenant, "tenant", tenant)
        domains: list[str] = list(loaded.state)
        self._cache[tenant] = (time.monotonic() + self._cache_s, domains)
        return domains
