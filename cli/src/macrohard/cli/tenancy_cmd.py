"""`mh tenants create|list` (operator, admin token) and `mh keys list|issue|revoke` (tenant key).

Both talk to the running gateway's HTTP API, the same one tenants use.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from macrohard.cli.platform import PlatformNotFound, add_platform_args, resolve


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = sub.add_parser("tenants", help="onboard and list tenants (admin token)")
    tsub = tenants.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create", help="onboard a tenant; prints its first API key once")
    create.add_argument("name")
    create.add_argument("--plan", default="payg", choices=["payg", "team", "enterprise"])
    create.add_argument(
        "--domain",
        action="append",
        default=[],
        dest="domains",
        help="a domain its agents may visit (repeat)",
    )
    create.add_argument("--budget", default="0", help="monthly budget, decimal string")
    create.add_argument("--currency", default="USD")
    add_platform_args(create)
    create.set_defaults(func=_tenants_create)
    lst = tsub.add_parser("list", help="list tenants")
    add_platform_args(lst)
    lst.set_defaults(func=_tenants_list)

    keys = sub.add_parser("keys", help="list, issue and revoke a tenant's API keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("list", _keys_list, "list keys (prefix and preview only)"),
        ("issue", _keys_issue, "issue a new key; printed once"),
        ("revoke", _keys_revoke, "revoke a key by id"),
    ):
        p = ksub.add_parser(name, help=text)
        p.add_argument(
            "--api-key",
            default=os.environ.get("MH_API_KEY"),
            help="a valid key of the tenant (env MH_API_KEY)",
        )
        if name == "issue":
            p.add_argument("--label", default="")
        if name == "revoke":
            p.add_argument("key_id")
        add_platform_args(p)
        p.set_defaults(func=func)


def _call(args: argparse.Namespace, method: str, path: str, token: str, body: Any = None) -> Any:
    import httpx

    ref = resolve(args)
    if not ref.gateway_url:
        raise PlatformNotFound("no gateway URL: run `mh up` or pass --gateway")
    with httpx.Client(base_url=ref.gateway_url, timeout=15.0, trust_env=False) as http:
        r = http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    if r.status_code >= 400:
        raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.content else None


def _admin(args: argparse.Namespace) -> str:
    return resolve(args).admin_token()


def _tenant_key(args: argparse.Namespace) -> str:
    if not args.api_key:
        raise SystemExit("pass --api-key or set MH_API_KEY")
    return str(args.api_key)


def _print(value: Any) -> int:
    print(json.dumps(value, indent=2))
    return 0


def _tenants_create(args: argparse.Namespace) -> int:
    body = {
        "name": args.name,
        "plan": args.plan,
        "allowed_domains": args.domains,
        "monthly_budget": args.budget,
        "currency": args.currency,
    }
    return _print(_call(args, "POST", "/v1/tenants", _admin(args), body))


def _tenants_list(args: argparse.Namespace) -> int:
    return _print(_call(args, "GET", "/v1/tenants", _admin(args))["data"])


def _keys_list(args: argparse.Namespace) -> int:
    return _print(_call(args, "GET", "/v1/api-keys", _tenant_key(args))["data"])


def _keys_issue(args: argparse.Namespace) -> int:
    return _print(_call(args, "POST", "/v1/api-keys", _tenant_key(args), {"label": args.label}))


def _keys_revoke(args: argparse.Namespace) -> int:
    _call(args, "DELETE", f"/v1/api-keys/{args.key_id}", _tenant_key(args))
    print(f"revoked {args.key_id}")
    return 0
