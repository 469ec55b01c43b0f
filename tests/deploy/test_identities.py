"""The permission files grant exactly what the code uses (issue 12, point 3; issue 11, 1b).

The identity declarations (`macrohard.contracts.identities`) are the one source of the NATS
permissions. These tests hold them to the code from both sides: what each service's package
builds and names (event classes, core subjects of the contracts), and what each service's
`build()` declares to FastStream (the AsyncAPI document's consumers). A new event emitted, a
subject used or a consumer added without its grant fails here, not in production.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from macrohard.contracts import ALL_EVENTS, browser, fleet, subjects
from macrohard.contracts.identities import (
    ARTIFACT_STORE_API,
    CAR_EVENTS,
    SERVICES,
    Identity,
    car,
    service,
)
from macrohard.contracts.nats_config import render_accounts
from macrohard.devkit.services import SERVICES as SERVICE_MODULES

ROOT = Path(__file__).resolve().parents[2]
SERVICES_CONF = ROOT / "deploy" / "nats" / "services.conf"
EVENT_NAMES = {cls.__name__ for cls in ALL_EVENTS}
# Every core NATS subject the contracts name (request-reply, telemetry, watches, the
# registry's and the gateway's KV buckets), by the constant or subject function the code
# uses to build it.
CORE_SUBJECTS: dict[str, tuple[str, ...]] = {
    "heartbeat_filter": (f"{fleet.HEARTBEAT_PREFIX}.*.*",),
    "LEASE_REQUEST": (fleet.LEASE_REQUEST,),
    "LEASE_RENEW": (fleet.LEASE_RENEW,),
    "LEASE_RELEASE": (fleet.LEASE_RELEASE,),
    "FLEET_STATS": (fleet.FLEET_STATS,),
    "LEASE_REVOCATIONS": (fleet.LEASE_REVOCATIONS,),
    "ACTUATOR_WORKER_PREFIX": (f"{browser.ACTUATOR_WORKER_PREFIX}.*",),
    "infer_subject": (f"{fleet.INFER_PREFIX}.*",),
    "REGISTRY_BUCKET": (
        f"$KV.{fleet.REGISTRY_BUCKET}.>",
        f"$JS.API.STREAM.CREATE.KV_{fleet.REGISTRY_BUCKET}",
        f"$JS.API.DIRECT.GET.KV_{fleet.REGISTRY_BUCKET}.>",
        f"$JS.API.STREAM.MSG.GET.KV_{fleet.REGISTRY_BUCKET}",
    ),
    # The gateway replicas' claims on Idempotency-Keys (provisioned with the streams).
    "SUBMISSION_CLAIMS_BUCKET": (
        f"$KV.{subjects.SUBMISSION_CLAIMS_BUCKET}.>",
        f"$JS.API.DIRECT.GET.KV_{subjects.SUBMISSION_CLAIMS_BUCKET}.>",
        f"$JS.API.STREAM.MSG.GET.KV_{subjects.SUBMISSION_CLAIMS_BUCKET}",
    ),
    # The tenants' files (the Object Store bucket), through the kernel's one store class.
    "ArtifactStore": ARTIFACT_STORE_API,
    # A car's own subjects (its identity names them for its id).
    "heartbeat_subject": (),
}


def package_dir(name: str) -> Path:
    return ROOT / "services" / name / "src"


def code_uses(name: str) -> tuple[set[str], set[str]]:
    """(event classes constructed, core-subject constants named) in a service's package."""
    built: set[str] = set()
    named: set[str] = set()
    for path in package_dir(name).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called in EVENT_NAMES:
                    built.add(called)
            if isinstance(node, ast.Name) and node.id in CORE_SUBJECTS:
                named.add(node.id)
    return built, named


def test_the_committed_permission_file_is_generated_from_the_declarations() -> None:
    assert SERVICES_CONF.read_text() == render_accounts(["car-1", "car-2"]), (
        "deploy/nats/services.conf drifted from macrohard.contracts.identities: "
        "run `mh deploy nats-config`"
    )
    check = subprocess.run(
        [sys.executable, "-m", "macrohard.cli.main", "deploy", "nats-config", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_drift_check_fails_on_a_hand_edited_file(tmp_path: Path) -> None:
    edited = tmp_path / "services.conf"
    edited.write_text(SERVICES_CONF.read_text().replace('"_INBOX_car-1.>"', '"_INBOX.>"'))
    check = subprocess.run(
        [
            *(sys.executable, "-m", "macrohard.cli.main", "deploy", "nats-config"),
            *("--check", "--out", str(edited)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1 and "out of date" in check.stderr


@pytest.mark.parametrize("identity", SERVICES, ids=lambda i: i.name)
def test_each_service_may_append_exactly_the_events_its_code_builds(identity: Identity) -> None:
    built, _ = code_uses(identity.name)
    assert identity.event_types == built


def test_a_car_may_append_exactly_the_events_the_node_agent_builds() -> None:
    built, _ = code_uses("node-agent")
    assert car("car-1").event_types == built == {cls.__name__ for cls in CAR_EVENTS}


@pytest.mark.parametrize("identity", SERVICES, ids=lambda i: i.name)
def test_each_service_is_granted_exactly_the_core_subjects_its_code_names(
    identity: Identity,
) -> None:
    _, named = code_uses(identity.name)
    granted = set(identity.publishes) | set(identity.listens)
    assert {subject for n in named for subject in CORE_SUBJECTS[n]} == granted


@pytest.mark.parametrize("identity", SERVICES, ids=lambda i: i.name)
def test_only_a_service_whose_code_retries_dead_letters_may_operate_the_dlq(
    identity: Identity,
) -> None:
    calls = {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        for path in package_dir(identity.name).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
    }
    assert identity.operates_dead_letters == ("retry_dead_letter" in calls)


def test_a_car_publishes_only_its_heartbeat_and_hears_only_its_work() -> None:
    _, named = code_uses("node-agent")
    assert named == {"heartbeat_subject", "infer_subject"}
    assert car("car-7").publishes == (fleet.heartbeat_subject("car-7"),)
    assert car("car-7").listens == (fleet.infer_subject("car-7"),)


def asyncapi_consumers(name: str) -> set[str]:
    """The durables a service's own build() registers, read from its AsyncAPI document."""
    from faststream.specification import AsyncAPI

    from macrohard.eventlog.service import Service, ServiceConfig

    svc = Service(ServiceConfig(name=name))
    importlib.import_module(SERVICE_MODULES[name]).build(svc)
    doc = json.loads(AsyncAPI(svc.broker, title=name).to_specification().to_json())
    durables = {channel.split(":")[0] for channel in doc.get("channels", {})}
    retries = {
        c["address"].removeprefix(subjects.DLQ_RETRY_PREFIX + ".")
        for c in doc.get("channels", {}).values()
        if c["address"].startswith(subjects.DLQ_RETRY_PREFIX + ".")
    }
    assert retries == durables, "every consumer accepts operator retries"
    return durables


@pytest.mark.parametrize("name", sorted(SERVICE_MODULES))
def test_each_service_runs_exactly_the_consumers_its_identity_declares(name: str) -> None:
    assert set(service(name).consumers) == asyncapi_consumers(name)


def test_every_service_that_mh_runs_has_an_identity() -> None:
    assert {s.name for s in SERVICES} == set(SERVICE_MODULES)


@pytest.mark.parametrize("identity", [*SERVICES, car("car-1")], ids=lambda i: i.name)
def test_nobody_is_granted_the_shared_inbox_or_everything(identity: Identity) -> None:
    for subject in identity.subscribe_allow() + identity.publish_allow():
        assert subject not in {">", "_INBOX.>", "*.>"}
        assert not subject.startswith("_INBOX.")
    assert f"{identity.inbox_prefix}.>" in identity.subscribe_allow()
    assert [s for s in identity.subscribe_allow() if s.startswith("_INBOX")] == [
        f"_INBOX_{identity.name}.>"
    ]


def test_a_car_has_no_jetstream_api_and_speaks_only_for_its_node() -> None:
    ident = car("car-3")
    assert not [s for s in ident.publish_allow() if s.startswith("$JS")]
    assert all(
        s.startswith("ev._platform.node.car-3.") or s == fleet.heartbeat_subject("car-3")
        for s in ident.publish_allow()
    )
