"""A car's NATS permissions: it may speak only for itself.

The rights themselves are declared once, in `macrohard.contracts.identities.car`: its own
node's state events (not NodeLost/NodeRecovered, which only the registry decides), its own
heartbeat subject, its own reply inbox (`_INBOX_<id>.>`, set by `connect_as_node`). This
module renders them for a plain `authorization { users = [...] }` block (a NATS server with
cars and one unrestricted platform user, as the fleet tests run); deploy/nats/services.conf
and `mh up --secure` render the same declarations with accounts.
"""

from __future__ import annotations

import json

from macrohard.contracts.identities import car


def node_permissions(node_id: str) -> dict[str, object]:
    identity = car(node_id)
    permissions: dict[str, object] = {
        "publish": {"allow": identity.publish_allow()},
        "subscribe": {"allow": identity.subscribe_allow()},
    }
    if identity.responds:  # the car answers the inference requests sent to it
        permissions["allow_responses"] = True
    return permissions


def node_user(node_id: str, password: str) -> dict[str, object]:
    """One entry of a nats-server `authorization.users` list (JSON is valid NATS config)."""
    return {"user": node_id, "password": password, "permissions": node_permissions(node_id)}


def authorization_block(cars: dict[str, str], platform_user: str, platform_password: str) -> str:
    """`authorization { users = [...] }`: every car least-privileged, the platform's
    services unrestricted."""
    users: list[dict[str, object]] = [{"user": platform_user, "password": platform_password}]
    users += [node_user(node_id, password) for node_id, password in cars.items()]
    return "authorization {\n  users = " + json.dumps(users, indent=2) + "\n}\n"
