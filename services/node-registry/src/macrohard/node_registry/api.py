"""The lease API: request-reply on core NATS (`fleet.lease.request|renew|release`).

Why request-reply and not events: a lease is a synchronous question ("which car, now?")
whose answer is recorded as an event (LeaseGranted) by the one process that decides it.
Replies are msgspec JSON `LeaseReply`; a malformed request gets `ok: false` with the error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from macrohard.contracts.fleet import (
    FLEET_STATS,
    LEASE_RELEASE,
    LEASE_RENEW,
    LEASE_REQUEST,
    LeaseRelease,
    LeaseRenewal,
    LeaseReply,
    LeaseRequest,
)
from macrohard.node_registry.leasing import LeaseDesk
from macrohard.node_registry.registry import Registry

log = logging.getLogger("macrohard.node_registry")
QUEUE = "node-registry"


def _endpoint(
    shape: type[Any], action: Callable[[Any], Awaitable[LeaseReply]]
) -> Callable[[Msg], Awaitable[None]]:
    decoder = msgspec.json.Decoder(shape)

    async def on_request(msg: Msg) -> None:
        try:
            reply = await action(decoder.decode(msg.data))
        except msgspec.DecodeError as exc:
            reply = LeaseReply(ok=False, error=f"bad request: {exc}")
        except Exception as exc:  # the caller must hear back rather than time out
            log.exception("lease request failed")
            reply = LeaseReply(ok=False, error=f"{type(exc).__name__}: {exc}")
        await msg.respond(msgspec.json.encode(reply))

    return on_request


async def serve_leases(nc: NATS, registry: Registry) -> list[Subscription]:
    desk = LeaseDesk(registry)

    async def on_stats(msg: Msg) -> None:
        await msg.respond(msgspec.json.encode(registry.stats()))

    return [
        await nc.subscribe(LEASE_REQUEST, QUEUE, cb=_endpoint(LeaseRequest, desk.grant)),
        await nc.subscribe(LEASE_RENEW, QUEUE, cb=_endpoint(LeaseRenewal, desk.renew)),
        await nc.subscribe(LEASE_RELEASE, QUEUE, cb=_endpoint(LeaseRelease, desk.release)),
        # Every replica answers: a plain request takes the first, the benchmark all of them.
        await nc.subscribe(FLEET_STATS, cb=on_stats),
    ]
