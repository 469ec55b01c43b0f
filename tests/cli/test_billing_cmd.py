"""`mh billing` against a real read model: invoice export as CSV and JSON, the report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from macrohard.billing.handlers import Invoicer
from macrohard.billing.projection import BillingProjection
from macrohard.cli import billing_cmd
from macrohard.cli.main import build_parser
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b

MH = str(Path(sys.executable).with_name("mh"))


@pytest.fixture
async def runner(nc: NATS, pool: asyncpg.Pool) -> ProjectionRunner:
    r = ProjectionRunner(nc, pool, BillingProjection(), batch_size=500)
    await r.setup()
    return r


async def mh(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        MH, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def cli(command: str, *args: str, code: int = 0) -> None:
    parsed = build_parser().parse_args(["billing", command, *args])
    handler = getattr(billing_cmd, command)
    assert await handler(parsed) == code


async def test_invoices_export_as_csv_and_json_and_the_report_balances(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner, database_url: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nats_url: str,
) -> None:  # fmt: skip
    await b.append_all(store, [
        b.onboarded("acme"),
        b.recorded("acme", "steps", 1100, b.at(9)),
        b.inference("acme", "t", b.at(10), compute_ms=120_000, energy_wh=2.5),
    ])  # fmt: skip
    await runner.catch_up()
    await Invoicer(store, pool).run_once(datetime(2026, 11, 5, tzinfo=UTC))
    await runner.catch_up()
    db = ("--database", database_url, "--nats", "nats://unused:4222")
    rows = list(csv.DictReader(io.StringIO(await mh(
        "billing", "invoices", "--tenant", "acme", "--format", "csv", *db))))  # fmt: skip
    # steps: 1000 billable at 0.005; compute: 120 s at 0.0005; energy: 2.5 Wh at 0.0003.
    assert [(r["meter"], r["quantity"], r["amount"], r["status"]) for r in rows] == [
        ("compute:planner-small", "120000000", "0.060000", "final"),
        ("energy_uwh", "2500000", "0.000750", "final"),
        ("steps", "1100", "5.000000", "final"),
    ]
    assert {r["invoice_total"] for r in rows} == {"5.060750"}
    # The other commands in-process (a subprocess each would only re-test the entry point).
    out = tmp_path / "acme.json"
    await cli("invoices", "--tenant", "acme", "--period", "2026-10",
              "--format", "json", "--out", str(out), *db)  # fmt: skip
    [invoice] = json.loads(out.read_text())
    assert (invoice["invoice_id"], invoice["total"], len(invoice["lines"])) == (
        "acme-2026-10", "5.060750", 3,
    )  # fmt: skip
    capsys.readouterr()
    await cli("report", "--period", "2026-10", "--json", *db)
    report = json.loads(capsys.readouterr().out)
    [tenant] = report["by_tenant"]
    # The owner earns 0.0002 per compute-second and 0.00025 per Wh: 0.024 + 0.000625.
    assert (tenant["revenue"], tenant["payouts"], tenant["margin"]) == (
        "5.060750", "0.024625", "5.036125",
    )  # fmt: skip
    await cli("usage", "--tenant", "acme", "--json", *db)
    usage = json.loads(capsys.readouterr().out)
    assert [u["meter"] for u in usage] == ["compute:planner-small", "energy_uwh", "steps"]
    # A correction: refused for the open month, appended for the final one.
    platform = ("--database", database_url, "--nats", nats_url)
    await cli("correct", "--tenant", "acme", "--period", "2026-11", "--amount", "-1",
              "--reason", "x", *platform, code=2)  # fmt: skip
    await cli("correct", "--tenant", "acme", "--period", "2026-10", "--amount", "-0.06",
              "--reason", "compute credit", *platform)  # fmt: skip
    [credit] = [e for e in await store.read_aggregate("acme", "invoice", "acme-2026-10")
                if e.type == "InvoiceCorrected"]  # fmt: skip
    assert credit.payload.amount == "-0.060000"  # type: ignore[attr-defined]
