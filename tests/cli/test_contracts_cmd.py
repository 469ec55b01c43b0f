"""`mh contracts asyncapi` documents the bus from the handlers the services really declare."""

from __future__ import annotations

from macrohard.cli.contracts_cmd import asyncapi_document


def test_asyncapi_lists_every_services_consumers() -> None:
    doc = asyncapi_document()
    assert str(doc["asyncapi"]).startswith("3.")
    channels: dict[str, dict[str, object]] = doc["channels"]  # type: ignore[assignment]
    addresses = {str(c.get("address")) for c in channels.values()}
    # Each service that consumes events declares durable consumers of the EVENTS stream and
    # the operator-retry subject of each; the planner and the actuator are the agent loop.
    assert any("IntentEmitted" in a for a in addresses)  # the actuator's intents
    assert any("TaskSubmitted" in a for a in addresses)  # the planner's work
    assert any("PageObserved" in a for a in addresses)  # the planner's next step
    retry = {a.removeprefix("mh.dlq.retry.") for a in addresses if a.startswith("mh.dlq.retry.")}
    # Every durable consumer also answers operator retries (mh dlq retry).
    assert {"actuator", "gateway-webhooks", "planner-tasks", "planner-pages"} <= retry
