"""`mh streams init [--replicas N]`: create the platform's streams before anything starts.

Run once as a one-shot container in docker compose (every service depends on it having
completed), because services call `ensure_streams(js)` with the default of one replica,
which would create EVENTS unreplicated in a cluster if they won the race. An existing
stream with fewer replicas is scaled up in place (JetStream supports that online).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import nats
from nats.js.errors import APIError, ServiceUnavailableError

from macrohard.cli.platform import add_platform_args, resolve
from macrohard.contracts.subjects import DLQ_STREAM, EVENTS_STREAM
from macrohard.eventlog.streams import ensure_streams


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("streams", help="provision the JetStream streams")
    ssub = p.add_subparsers(dest="streams_command", required=True)
    init = ssub.add_parser("init", help="create EVENTS, DLQ and the heartbeat bucket")
    init.add_argument("--replicas", type=int, default=1, help="3 in a 3-node cluster")
    init.add_argument("--wait", type=float, default=60.0, help="seconds to wait for JetStream")
    add_platform_args(init)
    init.set_defaults(func=lambda args: asyncio.run(init_streams(args)))


async def init_streams(args: argparse.Namespace) -> int:
    url = resolve(args).nats_url
    deadline = asyncio.get_running_loop().time() + args.wait
    while True:
        try:
            nc = await nats.connect(url, name="mh-streams-init", connect_timeout=2)
            break
        except Exception as exc:  # the cluster may still be starting: that is expected
            if asyncio.get_running_loop().time() > deadline:
                print(f"NATS at {url} not reachable: {exc}", file=sys.stderr)
                return 1
            await asyncio.sleep(1.0)
    try:
        js = nc.jetstream()
        while True:
            try:
                # JetStream answers only once the cluster has elected its meta leader.
                await ensure_streams(js, replicas=args.replicas)
                break
            except (ServiceUnavailableError, TimeoutError, nats.errors.NoRespondersError):
                if asyncio.get_running_loop().time() > deadline:
                    print("JetStream did not become available", file=sys.stderr)
                    return 1
                await asyncio.sleep(1.0)
            except APIError as exc:
                # e.g. 3 replicas asked of a cluster with fewer JetStream nodes: say so.
                print(
                    f"cannot create the streams with {args.replicas} replica(s): "
                    f"{exc.description} (code {exc.err_code})",
                    file=sys.stderr,
                )
                return 1
        for name in (EVENTS_STREAM, DLQ_STREAM):
            info = await js.stream_info(name)
            if (info.config.num_replicas or 1) < args.replicas:
                info.config.num_replicas = args.replicas
                try:
                    info = await js.update_stream(info.config)
                except APIError as exc:
                    print(
                        f"cannot scale {name} to {args.replicas} replicas: {exc.description}",
                        file=sys.stderr,
                    )
                    return 1
            print(f"{name}: replicas={info.config.num_replicas} messages={info.state.messages}")
    finally:
        await nc.close()
    return 0
