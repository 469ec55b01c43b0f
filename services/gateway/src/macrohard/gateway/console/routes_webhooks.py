"""A tenant's webhook deliveries: every try of every delivery, as the log recorded it
(`WebhookAttempted`: when, status code or network error, the signature header sent)."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import get
from litestar.response import Template

from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.tasks import WebhookAttempted
from macrohard.gateway.console.web import PREFIX, AnyRequest, gateway, page, tenant
from macrohard.gateway.context import GatewayContext

LIMIT = 200  # tries shown, newest first


@dataclass
class Delivery:
    delivery_id: str
    task_id: str
    url: str
    tries: list[RecordedEvent] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(isinstance(t.payload, WebhookAttempted) and t.payload.ok for t in self.tries)


async def deliveries(ctx: GatewayContext, tenant_id: str) -> list[Delivery]:
    """The tenant's most recent tries, grouped by delivery, newest delivery first."""
    seqs = await ctx.pool.fetch(
        """SELECT seq FROM eventlog.event_index
           WHERE tenant = $1 AND aggregate_type = 'webhook' ORDER BY seq DESC LIMIT $2""",
        tenant_id,
        LIMIT,
    )
    grouped: dict[str, Delivery] = {}
    for (seq,) in seqs:
        rec = await ctx.store.read_sequence(seq)
        p = rec.payload
        if rec.envelope.tenant != tenant_id or not isinstance(p, WebhookAttempted):
            continue
        d = grouped.setdefault(
            rec.envelope.aggregate_id, Delivery(rec.envelope.aggregate_id, p.task_id, p.url)
        )
        d.tries.insert(0, rec)
    return list(grouped.values())


@get(f"{PREFIX}/webhooks", include_in_schema=False)
async def webhooks(request: AnyRequest) -> Template:
    who = await tenant(request)
    found = await deliveries(gateway(request), who.tenant_id)
    return page(request, "webhooks.html", who.session, {"deliveries": found})


ROUTES = [webhooks]
