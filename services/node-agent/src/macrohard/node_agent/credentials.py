"""A car's NATS permissions: it may speak only for itself.

Publish: its own state events (`ev._platform.node.<id>.<Type>` for the types a car emits:
not NodeLost/NodeRecovered, which only the registry decides) and its own heartbeat subject
(`fleet.hb.<partition>.<id>`).
Subscribe: its own reply inbox prefix (`_INBOX_<id>.>`, set by `connect_as_node`), where
JetStream acknowledgements arrive, and its own work subject (`fleet.infer.<id>`), where the
platform sends it inference; it may answer each request once on that request's reply subject
(`allow_responses`), and publish nowhere else. Nothing else: no lease API, no other car, no
tenant data.
`mh`-generated configs and deploy/nats/ both come from these functions.
"""

from __future__ import annotations

import json

from macrohard.contracts import PLATFORM_TENANT
from macrohard.contracts.fleet import heartbeat_subject, infer_subject

CAR_EVENT_TYPES = (
    "NodeRegistered",
    "NodeParked",
    "NodeUnparked",
    "NodeChargingChanged",
    "NodeBatteryChanged",
    "NodeThrottled",
)


def node_permissions(node_id: str) -> dict[str, dict[str, object]]:
    return {
        "publish": {
            "allow": [f"ev.{PLATFORM_TENANT}.node.{node_id}.{t}" for t in CAR_EVENT_TYPES]
            + [heartbeat_subject(node_id)]
        },
        "subscribe": {"allow": [f"_INBOX_{node_id}.>", infer_subject(node_id)]},
        # One answer per inference request, within a minute, to the requester's reply subject.
        "allow_responses": {"max": 1, "expires": "1m"},
    }


def node_user(node_id: str, password: str) -> dict[str, object]:
    """One entry of a nats-server `authorization.users` list (JSON is valid NATS config)."""
    return {"user": node_id, "password": password, "permissions": node_permissions(node_id)}


def authorization_block(cars: dict[str, str], platform_user: str, platform_password: str) -> str:
    """`authorization { users = [...] }`: every car least-privileged, the platform's
    services unrestricted."""
    users: list[dict[str, object]] = [{"user": platform_user, "password": platform_password}]
    users += [node_user(node_id, password) for node_id, password in cars.items()]
    return "authorization {\n  users = " + json.dumps(users, indent=2) + "\n}\n"


def main() -> None:
    """Print the authorization block for cars car-1..car-N (N = argv[1], default 3), with
    passwords taken from the environment of the NATS server ($CAR_<n>_PASSWORD)."""
    import re
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cars = {f"car-{i}": f"$CAR_{i}_PASSWORD" for i in range(1, count + 1)}
    block = authorization_block(cars, "platform", "$PLATFORM_PASSWORD")
    print(re.sub(r'"(\$[A-Z0-9_]+)"', r"\1", block), end="")  # NATS reads $VARS unquoted


if __name__ == "__main__":
    main()
