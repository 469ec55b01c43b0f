"""`mh node --id car-1 [--parked-until TIME] [--schedule FILE]`: run one car node.

A real Triton server (PyTriton) serving every model binding, registered on the platform's
NATS, parked until TIME (or until stopped), heartbeating. `mh up --nodes K` runs K of these.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from macrohard.contracts.fleet import DEFAULT_HEARTBEAT_INTERVAL_S, DEFAULT_SOC_FLOOR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("node", help="run one car node (Triton + registration + heartbeats)")
    p.add_argument("--id", dest="node_id", required=True, help="node id, e.g. car-1")
    p.add_argument("--owner", default="", help="owner account paid for the compute")
    p.add_argument("--parked-until", help="expected departure: ISO time, HH:MM (UTC) or 90s/45m/8h")
    p.add_argument(
        "--schedule",
        type=Path,
        help='JSON list of {"after_s": 30, "action": "unpark|park|charge|stop_charging|'
        'battery|throttle|cool", "value": ...}',
    )
    p.add_argument("--nats", dest="nats_url", default=os.environ.get("MH_NATS_URL"))
    p.add_argument(
        "--heartbeat-interval",
        type=float,
        default=float(os.environ.get("MH_NODE_HEARTBEAT_S", DEFAULT_HEARTBEAT_INTERVAL_S)),
    )
    p.add_argument("--http-port", type=int, default=0, help="Triton HTTP port (0: free one)")
    p.add_argument("--grpc-port", type=int, default=0, help="Triton gRPC port (0: free one)")
    p.add_argument("--soc", type=float, default=0.8, help="battery state of charge at start")
    p.add_argument(
        "--soc-floor", type=float, default=DEFAULT_SOC_FLOOR, help="owner's minimum charge"
    )
    p.add_argument("--charging", action="store_true")
    p.add_argument(
        "--min-charge",
        type=charge,
        help="owner's terms: never lease the car below this charge (0-1), even charging",
    )
    p.add_argument(
        "--work-hours",
        type=work_hours,
        help="owner's terms: hours the car may work, on its own clock, e.g. 22-7 or 9,12-14",
    )
    p.add_argument("--time-zone", default="UTC", help="the car's IANA time zone for --work-hours")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("MH_DATA_DIR", ".mh")))
    p.set_defaults(func=run)


def charge(text: str) -> float:
    """A state of charge, 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a charge between 0 and 1")
    return value


def work_hours(text: str) -> list[int]:
    """`22-7` (wrapping past midnight), `9,12-14`: the hours of the day they cover."""
    hours: list[int] = []
    try:
        for part in text.split(","):
            first, dash, last = part.partition("-")
            start = int(first)
            stop = int(last) if dash else start
            if not (0 <= start <= 23 and 0 <= stop <= 23):
                raise ValueError(part)
            span = (
                range(start, stop + 1) if start <= stop else [*range(start, 24), *range(stop + 1)]
            )
            hours += [h for h in span if h not in hours]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: hours 0-23 as H, H-H or a comma list"
        ) from None
    return hours


def run(args: argparse.Namespace) -> int:
    from macrohard.cli.platform import read_record
    from macrohard.node_agent.public import NodeOptions, main

    nats_url = args.nats_url
    if not nats_url:
        record = read_record(args.data_dir)
        nats_url = record.nats_url if record else "nats://127.0.0.1:4222"
    main(
        NodeOptions(
            node_id=args.node_id,
            nats_url=nats_url,
            owner_account=args.owner,
            # A car's own credentials (deploy/nats): never on the command line.
            nats_user=os.environ.get("MH_NODE_NATS_USER"),
            nats_password=os.environ.get("MH_NODE_NATS_PASSWORD"),
            parked_until=args.parked_until,
            schedule=args.schedule,
            heartbeat_interval_s=args.heartbeat_interval,
            http_port=args.http_port,
            grpc_port=args.grpc_port,
            state_of_charge=args.soc,
            soc_floor=args.soc_floor,
            charging=args.charging,
            min_charge=args.min_charge,
            work_hours=args.work_hours,
            time_zone=args.time_zone,
            triton_workspace=args.data_dir.absolute() / "cars" / args.node_id / "triton",
        )
    )
    return 0
