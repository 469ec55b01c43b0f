"""The fleet read model in PostgreSQL schema `fleet`: nodes by state, schedulable capacity
(TOPS and watts), leases and preemptions per hour.

Built from the log only. "Schedulable" here is the log's view (parked, not lost, not
throttled, charge above the floor unless charging); the registry adds live heartbeats on
top, and a node silent for 3 intervals reaches this model as NodeLost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from macrohard.contracts import PLATFORM_TENANT
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.fleet import (
    LeaseGranted,
    LeaseReleased,
    LeaseRevoked,
    NodeBatteryChanged,
    NodeChargingChanged,
    NodeLost,
    NodeParked,
    NodeRecovered,
    NodeRegistered,
    NodeThrottled,
    NodeUnparked,
)
from macrohard.eventlog.db import Conn

DDL = """
CREATE SCHEMA IF NOT EXISTS fleet;
CREATE TABLE IF NOT EXISTS fleet.nodes (
    node_id text PRIMARY KEY,
    owner_account text NOT NULL,
    chip text NOT NULL,
    tops double precision NOT NULL,
    power_w double precision NOT NULL,
    models text[] NOT NULL,
    soc_floor double precision NOT NULL,
    parked boolean NOT NULL DEFAULT false,
    expected_departure timestamptz,
    charging boolean NOT NULL DEFAULT false,
    state_of_charge double precision NOT NULL DEFAULT 1.0,
    throttled boolean NOT NULL DEFAULT false,
    lost boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet.leases (
    lease_id text PRIMARY KEY,
    node_id text NOT NULL,
    tenant_id text NOT NULL,
    task_id text NOT NULL,
    model text NOT NULL,
    granted_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason text
);
CREATE OR REPLACE VIEW fleet.node_states AS
    SELECT CASE WHEN lost THEN 'lost' WHEN NOT parked THEN 'driving'
                WHEN throttled THEN 'throttled'
                WHEN NOT charging AND state_of_charge <= soc_floor THEN 'low_battery'
                ELSE 'parked' END AS state,
           count(*) AS nodes
    FROM fleet.nodes GROUP BY 1;
CREATE OR REPLACE VIEW fleet.capacity AS
    SELECT count(*) AS schedulable_nodes,
           coalesce(sum(tops), 0) AS schedulable_tops,
           coalesce(sum(power_w), 0) AS schedulable_watts
    FROM fleet.nodes
    WHERE parked AND NOT lost AND NOT throttled AND (charging OR state_of_charge > soc_floor);
CREATE OR REPLACE VIEW fleet.preemptions_per_hour AS
    SELECT date_trunc('hour', ended_at) AS hour, count(*) AS preemptions
    FROM fleet.leases WHERE end_reason IS NOT NULL AND end_reason <> 'released'
    GROUP BY 1 ORDER BY 1;
"""

_NODE_COLUMNS = (
    "parked",
    "expected_departure",
    "charging",
    "state_of_charge",
    "throttled",
    "lost",
)


class FleetProjection:
    name = "fleet"
    subjects = (f"ev.{PLATFORM_TENANT}.node.>", f"ev.{PLATFORM_TENANT}.lease.>")

    async def create(self, conn: Conn) -> None:
        await conn.execute(DDL)

    async def drop(self, conn: Conn) -> None:
        await conn.execute("DROP SCHEMA IF EXISTS fleet CASCADE")

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # Fold the batch in memory first, so each node and lease is one row write per batch.
        registered: dict[str, tuple[Any, ...]] = {}
        changes: dict[str, dict[str, Any]] = {}
        stamps: dict[str, datetime] = {}
        granted: list[tuple[Any, ...]] = []
        ended: dict[str, tuple[datetime, str]] = {}
        for rec in events:
            e, at = rec.payload, rec.envelope.occurred_at
            match e:
                case NodeRegistered():
                    registered[e.node_id] = (
                        e.node_id, e.owner_account, e.chip, e.tops, e.power_w,
                        list(e.models), e.soc_floor, at,
                    )  # fmt: skip
                    # A (re-)registration starts from a clean state: the car tells us anew.
                    changes[e.node_id] = {
                        "parked": False, "expected_departure": None, "charging": False,
                        "state_of_charge": 1.0, "throttled": False, "lost": False,
                    }  # fmt: skip
                case NodeParked():
                    changes.setdefault(e.node_id, {}).update(
                        parked=True, expected_departure=e.expected_departure
                    )
                case NodeUnparked():
                    changes.setdefault(e.node_id, {}).update(parked=False, expected_departure=None)
                case NodeLost():
                    changes.setdefault(e.node_id, {})["lost"] = True
                case NodeRecovered():
                    changes.setdefault(e.node_id, {})["lost"] = False
                case NodeChargingChanged():
                    changes.setdefault(e.node_id, {})["charging"] = e.charging
                case NodeBatteryChanged():
                    changes.setdefault(e.node_id, {})["state_of_charge"] = e.state_of_charge
                case NodeThrottled():
                    changes.setdefault(e.node_id, {})["throttled"] = e.throttled
                case LeaseGranted():
                    granted.append((e.lease_id, e.node_id, e.tenant_id, e.task_id, e.model, at))
                case LeaseReleased():
                    ended.setdefault(e.lease_id, (at, "released"))
                case LeaseRevoked():
                    ended.setdefault(e.lease_id, (at, e.reason))
            if hasattr(e, "node_id") and rec.envelope.aggregate_type == "node":
                stamps[e.node_id] = at
        if registered:
            await conn.executemany(
                """INSERT INTO fleet.nodes (node_id, owner_account, chip, tops, power_w, models,
                       soc_floor, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (node_id) DO UPDATE SET owner_account = $2, chip = $3,
                       tops = $4, power_w = $5, models = $6, soc_floor = $7, updated_at = $8""",
                list(registered.values()),
            )
        if changes:
            # Each column is set only where the batch changed it ($n IS NOT NULL flags).
            await conn.executemany(
                """UPDATE fleet.nodes SET
                     parked = CASE WHEN $2 THEN $3 ELSE parked END,
                     expected_departure = CASE WHEN $4 THEN $5 ELSE expected_departure END,
                     charging = CASE WHEN $6 THEN $7 ELSE charging END,
                     state_of_charge = CASE WHEN $8 THEN $9 ELSE state_of_charge END,
                     throttled = CASE WHEN $10 THEN $11 ELSE throttled END,
                     lost = CASE WHEN $12 THEN $13 ELSE lost END,
                     updated_at = $14
                   WHERE node_id = $1""",
                [
                    (
                        node_id,
                        *(x for col in _NODE_COLUMNS for x in (col in ch, ch.get(col))),
                        stamps[node_id],
                    )
                    for node_id, ch in changes.items()
                ],
            )
        if granted:
            await conn.executemany(
                """INSERT INTO fleet.leases (lease_id, node_id, tenant_id, task_id, model,
                       granted_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                granted,
            )
        if ended:
            await conn.executemany(
                """UPDATE fleet.leases SET ended_at = $2, end_reason = $3
                   WHERE lease_id = $1 AND ended_at IS NULL""",
                [(lease_id, at, reason) for lease_id, (at, reason) in ended.items()],
            )
