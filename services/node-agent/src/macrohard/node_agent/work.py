"""The car's side of inference: take work from the bus, run it on the car's own Triton.

Cars dial out. A car on a mobile network accepts no inbound connection, and an address a car
declares is an address the platform must never dial (it could name an internal host). So
the platform sends `InferenceRequest`s to `fleet.infer.<node_id>`, the only work subject
this car's NATS user may subscribe to, and the car calls its local Triton (loopback) with
`tritonclient` and answers on the request's reply subject. The reply carries outputs only:
what the call cost is measured by the platform, never reported by the car.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from macrohard.contracts import tensors
from macrohard.contracts.fleet import InferenceReply, InferenceRequest, WireTensor, infer_subject

log = logging.getLogger("macrohard.node_agent")


class InferenceWorker:
    """Serves `fleet.infer.<node_id>` from a local Triton at `triton_http_url`.

    At most `max_inflight` calls run at once (the car's lease slots, with head-room); one
    more is answered "busy" at once rather than queued behind work the caller may abandon.
    """

    def __init__(
        self, nc: NATS, node_id: str, triton_http_url: str, *, max_inflight: int = 8
    ) -> None:
        self.nc = nc
        self.node_id = node_id
        self.triton_http_url = triton_http_url
        self.max_inflight = max_inflight
        self.served = 0
        self._inflight: set[asyncio.Task[None]] = set()
        # tritonclient is untyped; its aio client is imported lazily (the CLI never needs it).
        self._client: Any = None
        self._sub: Subscription | None = None

    async def start(self) -> InferenceWorker:
        self._sub = await self.nc.subscribe(infer_subject(self.node_id), cb=self._on_request)
        return self

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply:
            return  # nobody to answer: not a request
        if len(self._inflight) >= self.max_inflight:
            await self._answer(msg, InferenceReply(ok=False, error="busy"))
            return
        # Calls run concurrently: nats-py hands one subscription's messages over one by one.
        task = asyncio.create_task(self._serve(msg))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _serve(self, msg: Msg) -> None:
        try:
            request = tensors.decode_request(msg.data)
            outputs = await self._infer(request)
            reply = InferenceReply(ok=True, outputs=outputs)
            self.served += 1
        except (ValueError, TypeError) as exc:  # msgspec.DecodeError and BadTensor included
            reply = InferenceReply(ok=False, error=f"bad request: {exc}")
        except Exception as exc:
            # Triton's own errors (model missing, shape refused, server restarting) are many
            # types; the caller must hear back at once rather than time out, and retries
            # elsewhere. Logged with the lease, which is the correlation the car knows.
            log.exception("inference failed", extra={"node_id": self.node_id})
            reply = InferenceReply(ok=False, error=f"{type(exc).__name__}: {exc}")
        await self._answer(msg, reply)

    async def _answer(self, msg: Msg, reply: InferenceReply) -> None:
        await msg.respond(tensors.encode(reply))

    async def _infer(self, request: InferenceRequest) -> list[WireTensor]:
        from tritonclient.http.aio import InferenceServerClient, InferInput, InferRequestedOutput

        if self._client is None:
            self._client = InferenceServerClient(self.triton_http_url.split("://", 1)[-1])
        inputs = []
        for tensor in request.inputs:
            array = tensors.from_wire(tensor)
            item = InferInput(tensor.name, list(array.shape), tensor.datatype)
            item.set_data_from_numpy(array)
            inputs.append(item)
        result = await self._client.infer(
            request.model, inputs, outputs=[InferRequestedOutput(o) for o in request.outputs]
        )
        return [tensors.to_wire(o, result.as_numpy(o)) for o in request.outputs]

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None
