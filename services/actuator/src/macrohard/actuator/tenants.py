"""The actuator's small read of tenants: allowed domains and plan, from the log.

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


def evolve_domains(state: tuple[str, ...] | None, env: Envelope) -> tuple[str, ...] | None:
    event = env.payload
    if isinstance(event, TenantOnboarded | TenantDomainsChanged):
        return tuple(event.allowed_domains)
    return state


def evolve_plan(state: str, env: Envelope) -> str:
    event = env.payload
    return event.plan if isinstance(event, TenantOnboarded) else state


class AllowedDomains:
    """Tenant id -> allowed domains: None for an unknown tenant, [] for no domain limit."""

    def __init__(self, store: EventStore, cache_s: float = CACHE_S) -> None:
        self._store = store
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, list[str] | None]] = {}

    async def of(self, tenant: str) -> list[str] | None:
        hit = self._cache.get(tenant)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        # The gateway writes a tenant's events under its own tenant token, id = tenant id.
        unknown: tuple[str, ...] | None = None
        loaded = await self._store.load(evolve_domains, unknown, tenant, "tenant", tenant)
        domains = None if loaded.state is None else list(loaded.state)
        self._cache[tenant] = (time.monotonic() + self._cache_s, domains)
        return domains

    async def plan_of(self, tenant: str) -> str:
        """The tenant's plan ("" for an unknown tenant): read when a file's limits are
        needed, which is rare enough to go to the log each time."""
        loaded = await self._store.load(evolve_plan, "", tenant, "tenant", tenant)
        return loaded.state
