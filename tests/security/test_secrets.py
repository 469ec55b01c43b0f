"""Point 5: a task's secrets reach the page that needs them and nothing else: not the log
(in a hash, an observation, an error), not a foreign page, not Chromium's environment, not
the service logs; and a live replay browses under the actuator's guard."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from urllib.parse import quote

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.eventlog import EventStore, Service, ServiceConfig
from macrohard.eventlog.logs import JsonLineFormatter
from tests.actuator.conftest import TENANT, Running, element
from tests.actuator.site import Site
from tests.cli.conftest import MhRunner
from tests.gateway.conftest import TASK, RunningGateway, onboard
from tests.security.conftest import Participants

SECRET = "correct horse battery staple 42"
# Echoes what is typed after 110 characters of filler: a clipped observation (120) would
# keep the secret's first words.
ECHO = """<title>Echo</title><label for=pw>Password</label><input id=pw>
<p id=out></p><script>document.getElementById('pw').oninput = e =>
document.getElementById('out').textContent = 'x'.repeat(110) + ' ' + e.target.value
.replaceAll(' ', '\\n  ');</script>"""


async def test_the_idempotency_fingerprint_cannot_be_brute_forced_from_the_log(
    production_gateway: RunningGateway, participants: Participants
) -> None:
    tenant = await onboard(production_gateway)
    body = {**TASK, "secrets": {"password": "hunter2"}}
    async with production_gateway.client(tenant.api_key) as client:
        r = await client.post("/v1/tasks", json=body, headers={"Idempotency-Key": "k1"})
        assert r.status_code == 202
        again = await client.post("/v1/tasks", json=body, headers={"Idempotency-Key": "k1"})
        assert again.json()["task_id"] == r.json()["task_id"]  # still recognised
    admin = EventStore(await participants.connect("admin"))
    [rec] = await admin.read_aggregate(tenant.tenant_id, "task", r.json()["task_id"])
    stored = rec.payload.request_hash  # type: ignore[attr-defined]
    # The attacker has the log and guesses the password: every unkeyed digest misses.
    for guess in ("hunter1", "hunter2", "hunter3"):
        candidate = {**TASK, "secrets": {"password": guess}}
        canonical = json.dumps(candidate, sort_keys=True, separators=(",", ":")).encode()
        assert hashlib.sha256(canonical).hexdigest() != stored


async def test_a_clipped_or_spaced_secret_never_reaches_an_observation(
    actuator: Running, site: Site
) -> None:
    await actuator.onboard([])
    url = site.url("/probe?html=" + quote(ECHO))
    await actuator.submit("s1", url, secrets={"pw": SECRET})
    first = await actuator.step("s1", 1, Intent(action="navigate", url=url))
    box = element(first[1], "Password")
    typed, page = await actuator.step(
        "s1", 2, Intent(action="type", element=box, text="{{secret:pw}}")
    )
    assert typed is not None and typed.ok, typed
    seen = json.dumps([e.text for e in page.observation.elements])
    for word in SECRET.split():
        if len(word) > 3:
            assert word not in seen, seen
    assert "[secret]" in seen


async def test_a_secret_is_typed_only_on_the_tenants_or_the_start_origin(
    actuator: Running, site: Site
) -> None:
    await actuator.onboard([])  # no domain list: only the task's start origin qualifies
    start = site.url("/form")
    await actuator.submit("s2", start, secrets={"pw": SECRET})
    await actuator.step("s2", 1, Intent(action="navigate", url=start))
    # The model was talked into another origin (same server, another host name).
    elsewhere = site.url("/form", host="localhost")
    _, there = await actuator.step("s2", 2, Intent(action="navigate", url=elsewhere))
    box = element(there, "Password")
    typed, _ = await actuator.step(
        "s2", 3, Intent(action="type", element=box, text="{{secret:pw}}")
    )
    assert typed is not None and not typed.ok and typed.blocked, typed
    assert "start origin" in typed.error
    value = await actuator.actuator.pool.get("s2").page.input_value("#pw")  # type: ignore[union-attr]
    assert value == ""


async def test_service_logs_never_carry_the_nats_password(participants: Participants) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    url = participants.url("billing")
    password = url.split(":")[2].split("@")[0]
    stop = asyncio.Event()
    service = Service(ServiceConfig(name="billing", nats_url=url))
    running = asyncio.create_task(service.run(stop))
    try:
        for _ in range(250):
            if "service started" in out.getvalue():
                break
            await asyncio.sleep(0.02)
        logging.getLogger("anything").error("could not reach %s", url)
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        root.removeHandler(handler)
        root.setLevel(level)
    text = out.getvalue()
    assert "service started" in text and "billing:***@" in text
    assert password not in text


async def test_a_live_replay_does_not_visit_an_internal_address(
    mh: MhRunner, store: EventStore, site: Site
) -> None:
    """Without local test mode, a recording that starts on a loopback page is refused."""
    acme = TenantOnboarded(
        tenant_id=TENANT, name="Acme", plan="std", allowed_domains=[], monthly_budget="1"
    )
    await store.append([envelope(acme, tenant=TENANT, aggregate_id=TENANT)], expected_version=0)
    internal = site.url("/secret", host="2130706433")
    submitted = TaskSubmitted(task_id="r1", goal="g", start_url=internal)
    await store.append([envelope(submitted, tenant=TENANT, aggregate_id="r1")], expected_version=0)
    before = list(site.hits)
    result = await mh("task", "replay", "r1", "--live")
    assert site.hits == before, site.hits
    assert result.code == 1 and "refused" in result.err, result
