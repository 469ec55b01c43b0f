"""NATS server configuration rendered from the identity declarations (`identities`).

One renderer for both places the platform runs secured: deploy/nats/services.conf, where
passwords are `$MH_NATS_<NAME>_PASSWORD` references the server resolves from its
environment, and `mh up --secure`, which writes real passwords into a private file. Same
users, same permissions: the two cannot disagree.

Layout: one account, MACROHARD, holds every stream and every user (accounts isolate
subjects, and all participants share one log); the SYS account is the server's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from macrohard.contracts.identities import SERVICES, Identity, car

ADMIN_USER = "admin"
SYS_USER = "sys"

HEADER = """\
# GENERATED from macrohard.contracts.identities by `mh deploy nats-config`: do not edit.
# tests/deploy checks this file against the declarations; change those and regenerate.
#
# NATS accounts and users of the platform, least privilege per service and per car node:
# - every service and car appends only the event types it owns (the type segment of
#   ev.<tenant>.<aggregate>.<id>.<Type>); a car only for its own node;
# - every identity replies, and is delivered to, on its own inbox prefix (_INBOX_<name>);
#   nobody may subscribe _INBOX.> or >;
# - services read the log (consumers, direct get) but fetch and ack only their own durables;
#   cars have no JetStream API at all.
# Passwords come from the environment (deploy/.env, see .env.example).
"""


def password_variable(user: str) -> str:
    """The environment variable holding a user's password in deploy/ (`MH_NATS_CAR_1_PASSWORD`)."""
    return f"MH_NATS_{user.upper().replace('-', '_')}_PASSWORD"


def env_password(user: str) -> str:
    """A password reference nats-server resolves from its environment (unquoted `$VAR`)."""
    return "$" + password_variable(user)


def literal_password(passwords: dict[str, str]) -> Callable[[str], str]:
    """Passwords written into the file itself (quoted), for `mh up --secure`."""
    return lambda user: json.dumps(passwords[user])


def identities(cars: Sequence[str]) -> list[Identity]:
    """Every identity of a platform with these cars: the services, then each car."""
    return [*SERVICES, *(car(c) for c in cars)]


def _list(items: Sequence[str], indent: str) -> str:
    inner = ",\n".join(f"{indent}  {json.dumps(s)}" for s in items)
    return f"[\n{inner}\n{indent}]"


def user_block(ident: Identity, password: str) -> str:
    pad = " " * 10
    lines = [
        f"      {{ user: {ident.name}, password: {password}, permissions: {{",
        f"{pad}publish: {{ allow: {_list(ident.publish_allow(), pad + '  ')} }}",
        f"{pad}subscribe: {{ allow: {_list(ident.subscribe_allow(), pad + '  ')} }}",
    ]
    # A durable's replicas answer the operator's retries (`mh dlq retry`, the console).
    if ident.responds or ident.consumers:
        lines.append(f"{pad}allow_responses: true")
    lines.append("      } }")
    return "\n".join(lines)


def render_accounts(cars: Sequence[str], password: Callable[[str], str] = env_password) -> str:
    """The `accounts {...}` and `system_account` blocks for the services and these cars."""
    users = [
        "      # The operator (`mh` debugging commands, `mh streams init`): unrestricted.\n"
        f"      {{ user: {ADMIN_USER}, password: {password(ADMIN_USER)} }}"
    ]
    for ident in identities(cars):
        users.append(user_block(ident, password(ident.name)))
    return (
        HEADER
        + "\naccounts {\n  MACROHARD {\n    jetstream: enabled\n    users: [\n"
        + "\n\n".join(users)
        + "\n    ]\n  }\n"
        + "  # The system account: server monitoring and cluster events, for the operator only.\n"
        + f"  SYS {{\n    users: [ {{ user: {SYS_USER}, password: {password(SYS_USER)} }} ]\n  }}\n"
        + "}\nsystem_account: SYS\n"
    )
