"""`mh contracts schema|asyncapi`: the documents that describe the bus."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from macrohard.cli.generated import write_generated
from macrohard.devkit.services import SERVICES

SCHEMA_PATH = Path("contracts/schema/contracts.schema.json")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("contracts", help="JSON Schema of every contract, AsyncAPI of the bus")
    csub = p.add_subparsers(dest="contracts_command", required=True)
    s = csub.add_parser("schema", help="write the JSON Schema of every event and shape")
    s.add_argument("--out", type=Path, default=SCHEMA_PATH, help="'-' for stdout")
    s.add_argument("--check", action="store_true", help="exit 1 if --out is out of date")
    s.set_defaults(func=schema)
    a = csub.add_parser("asyncapi", help="AsyncAPI 3 document of every service's handlers")
    a.add_argument("--out", type=Path, default=Path("-"))
    a.set_defaults(func=asyncapi)


def schema(args: argparse.Namespace) -> int:
    from macrohard.contracts.schema import contract_schema_json

    return write_generated(
        args.out, contract_schema_json(), check=args.check, command="mh contracts schema"
    )


def asyncapi_document() -> dict[str, object]:
    """Every service declares its consumers on one broker; FastStream documents them."""
    from faststream.specification import AsyncAPI

    from macrohard.eventlog.service import Service, ServiceConfig

    service = Service(ServiceConfig(name="macrohard"))
    for module_name in SERVICES.values():
        module = importlib.import_module(module_name)
        build = getattr(module, "build", None)
        if build is not None:
            build(service)
    spec = AsyncAPI(service.broker, title="Macrohard event bus", version="0.1.0")
    return json.loads(spec.to_specification().to_json())  # type: ignore[no-any-return]


def asyncapi(args: argparse.Namespace) -> int:
    doc = json.dumps(asyncapi_document(), indent=2)
    if str(args.out) == "-":
        print(doc)
    else:
        args.out.write_text(doc + "\n")
        print(f"wrote {args.out}")
    return 0
