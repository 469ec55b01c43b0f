"""The actuator service: `mh run actuator` (one Chromium, many task contexts).

Env: MH_NATS_URL, MH_LOCAL_TEST_MODE=1 (tests and benchmarks only: lets the browser reach
loopback/private addresses), MH_DATA_DIR (screenshots under it), MH_ACTUATOR_SCREENSHOT_DIR,
MH_ACTUATOR_ACK_WAIT_S (how soon a dead replica's intent is redelivered),
MH_ACTUATOR_ACTION_TIMEOUT_MS, MH_ACTUATOR_UPLOAD_DIR, MH_ACTUATOR_WORKER,
MH_ACTUATOR_QUIET_MS (DOM quiet time that counts as settled), MH_ACTUATOR_SETTLE_CAP_MS.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from macrohard.actuator.actions import ActionSettings
from macrohard.actuator.browser import BrowserPool
from macrohard.actuator.handlers import Actuator, ActuatorSettings, new_worker_id
from macrohard.actuator.observer import Observer
from macrohard.actuator.screenshots import ScreenshotStore
from macrohard.actuator.secrets import gateway_opener, gateway_sealer
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.subjects import type_filter
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.service import Service, run_service

DURABLE = "actuator"
SUBJECTS = [
    type_filter("IntentEmitted", aggregate_type="task"),
    type_filter("TaskCompleted", aggregate_type="task"),
    type_filter("TaskFailed", aggregate_type="task"),
    type_filter("TaskCancelled", aggregate_type="task"),
]


def local_test_mode() -> bool:
    return os.environ.get("MH_LOCAL_TEST_MODE", "") in {"1", "true", "yes"}


def consumer_spec(ack_wait_s: float = 5.0) -> ConsumerSpec:
    # Replicas share the durable, so `--scale actuator=N` spreads intents over them; the
    # ack wait is how long a dead replica's unacknowledged intent waits to be redelivered
    # (a live one keeps its intent with progress acks, however long the action takes).
    return ConsumerSpec(
        durable=DURABLE,
        subjects=SUBJECTS,
        ack_wait_s=ack_wait_s,
        # Each intent in its own task: one tenant's stalled page never holds another
        # tenant's intents behind it (a task's own intents still run one at a time).
        batch_size=4,
        max_in_flight=32,
        max_deliver=5,
        description="actuator: carries out intents in a real browser",
    )


def build(service: Service) -> None:
    extra = service.config.extra
    upload = extra.get("upload_dir")
    # Short: how soon a dead replica's intent comes back. A live one keeps its intent with
    # progress acks, so the step deadline below is independent of it.
    ack_wait_s = float(extra.get("ack_wait_s", "5"))
    step_deadline_s = float(extra.get("step_deadline_s", "20"))
    settings = ActuatorSettings(
        # A holder answers within its step deadline (or is dead: "no responders" at once).
        forward_timeout_s=step_deadline_s + 5.0,
        step_deadline_s=step_deadline_s,
        worker=extra.get("worker") or new_worker_id(),
        local_test_mode=local_test_mode(),
        action=ActionSettings(
            timeout_ms=float(extra.get("action_timeout_ms", "5000")),
            upload_dir=Path(upload) if upload else None,
        ),
        file_replicas=service.config.stream_replicas,
    )
    # Events bind to the running loop on first use, so this is safe before asyncio.run.
    ready = asyncio.Event()
    holder: list[Actuator] = []

    async def handle(rec: RecordedEvent) -> None:
        # The consumer starts with the service; the browser comes up in `run` just after.
        await ready.wait()
        await holder[0].handle(rec)

    async def run(svc: Service) -> None:
        actuator = Actuator(
            svc.store,
            svc.nc,
            BrowserPool(local_test_mode=settings.local_test_mode),
            Observer(
                ScreenshotStore.from_env(),
                quiet_ms=int(extra.get("quiet_ms", "30")),
                settle_cap_ms=int(extra.get("settle_cap_ms", "1500")),
            ),
            settings,
            opener=gateway_opener(),
            sealer=gateway_sealer(),
        )
        await actuator.start()
        holder.append(actuator)
        ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await actuator.stop()

    service.consume(consumer_spec(ack_wait_s), handle)
    service.background(run)


def main() -> None:
    run_service("actuator", build)
