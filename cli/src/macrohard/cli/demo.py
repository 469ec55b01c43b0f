"""`mh demo`: the platform end to end, the way a tenant meets it.

Starts the whole platform (`mh up --local-test-mode`, which lets agents visit this
machine's own pages), serves a small web app on localhost, onboards a tenant, hands it a
task in plain words and follows the agent step by step until the work is done. Then the
platform keeps running for you to explore (Ctrl-C stops it), or stops with --exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from macrohard.cli.platform import admin_token
from macrohard.devkit.lifeline import die_with_parent
from macrohard.devkit.pages import LocalSite

SITE = Path(__file__).with_name("demo_site")
GOAL = (
    'Enter "Ada Lovelace" into the full name field, select "Engineering" from the team list, '
    'check "Needs a laptop" and press Submit.'
)
TERMINAL = {"completed", "failed", "cancelled"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the platform and watch an agent do a task")
    p.add_argument("--data-dir", type=Path, default=Path(".mh"))
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--nats-port", type=int, default=4222)
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--metrics-port", type=int, default=9100)
    p.add_argument(
        "--secure",
        action="store_true",
        help="run it on the production topology (mh up --secure): own NATS identities",
    )
    p.add_argument("--cluster", type=int, default=1, help="with --secure: NATS nodes (3)")
    p.add_argument("--replicas", type=int, default=1, help="processes per service")
    p.add_argument("--exit", action="store_true", help="stop the platform after the demo")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds for the task")
    p.set_defaults(func=lambda args: asyncio.run(demo(args)))


@contextlib.contextmanager
def serve_site() -> Iterator[str]:
    """The demo web app on a free loopback port (what a tenant's app would be)."""
    with LocalSite(directory=SITE) as site:
        yield site.url("/index.html")


async def _start_platform(args: argparse.Namespace) -> asyncio.subprocess.Process:
    topology = ["--replicas", str(args.replicas)]
    if args.secure:
        topology += ["--secure", "--cluster", str(args.cluster)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "macrohard.cli.main", "up", "--local-test-mode",
        "--data-dir", str(args.data_dir), "--http-port", str(args.http_port),
        "--nats-port", str(args.nats_port), "--pg-port", str(args.pg_port),
        "--metrics-port", str(args.metrics_port), *topology,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        # A killed demo must not leave its platform running.
        preexec_fn=die_with_parent(signal.SIGTERM),
    )  # fmt: skip
    return proc


async def _wait_ready(proc: asyncio.subprocess.Process, log: Path) -> str:
    """Copy the platform's output to a log file until its `ready:` line."""
    assert proc.stdout is not None
    with log.open("ab") as out:
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise SystemExit(f"the platform stopped before it was ready; see {log}")
            out.write(line)
            text = line.decode(errors="replace")
            if text.startswith("ready:"):
                print(text.rstrip(), flush=True)
                return text.split()[1]


async def _drain(proc: asyncio.subprocess.Process, log: Path) -> None:
    assert proc.stdout is not None
    with log.open("ab") as out:
        async for line in proc.stdout:
            out.write(line)


def _print_step(step: dict[str, Any]) -> None:
    intent = step.get("intent") or {}
    result = step.get("result") or {}
    seen = step.get("observation") or {}
    target = intent.get("element")
    what = intent.get("action", "?") + (f" #{target}" if target is not None else "")
    if intent.get("text"):
        what += f" {intent['text']!r}"
    ok = "ok" if result.get("ok", True) else f"failed: {result.get('error', '')}"
    print(f"  step {step.get('step')}: {what:<40} {ok:<10} -> {seen.get('title', '')}")


async def demo(args: argparse.Namespace) -> int:
    args.data_dir = args.data_dir.absolute()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    log = args.data_dir / "demo-platform.log"
    token = admin_token(args.data_dir, create=True)
    proc = await _start_platform(args)
    drain: asyncio.Task[None] | None = None
    try:
        gateway = await asyncio.wait_for(_wait_ready(proc, log), 240)
        drain = asyncio.create_task(_drain(proc, log))
        with serve_site() as page:
            code = await _run_task(gateway, token, page, args.timeout, args.data_dir)
        if not args.exit:
            # Handlers first: a Ctrl-C right after the message is a clean stop, not a traceback.
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            print(f"\nThe platform keeps running at {gateway} (logs: {log}); Ctrl-C stops it.")
            await stop.wait()
        return code
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 60)
            if proc.returncode is None:
                proc.kill()
        if drain is not None:
            drain.cancel()


async def _run_task(gateway: str, token: str, page: str, timeout: float, data_dir: Path) -> int:
    async with httpx.AsyncClient(base_url=gateway, timeout=30.0) as http:
        onboarded = await http.post(
            "/v1/tenants",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "Acme Corp", "plan": "team", "allowed_domains": ["127.0.0.1"],
                  "monthly_budget": "100.00"},
        )  # fmt: skip
        onboarded.raise_for_status()
        tenant = onboarded.json()
        print(f"onboarded tenant {tenant['tenant_id']} (API key {tenant['api_key'][:14]}…)")
        key = {"Authorization": f"Bearer {tenant['api_key']}"}
        submitted = await http.post(
            "/v1/tasks", headers=key, json={"goal": GOAL, "start_url": page, "max_steps": 15}
        )
        submitted.raise_for_status()
        task_id = submitted.json()["task_id"]
        print(f"task {task_id}: {GOAL}")
        shown: set[int] = set()
        deadline = asyncio.get_running_loop().time() + timeout
        view: dict[str, Any] = {}
        while asyncio.get_running_loop().time() < deadline:
            view = (await http.get(f"/v1/tasks/{task_id}", headers=key)).json()
            final = view.get("status") in TERMINAL
            # A step is shown once the browser has done it (or the task has ended).
            for step in view.get("steps", []):
                if step["step"] not in shown and (step.get("result") or final):
                    _print_step(step)
                    shown.add(step["step"])
            if final:
                break
            await asyncio.sleep(0.5)
        status = view.get("status", "unknown")
        print(f"task {status}: {view.get('result') or view.get('reason') or ''}")
        usage = (await http.get("/v1/usage", headers=key)).json()
        for meter in usage.get("meters", []):
            print(f"  usage {meter['meter']:<16} {meter['quantity']:>10} {meter['unit']:<10}"
                  f" {meter['amount']}")  # fmt: skip
        print(f"replay it: .venv/bin/mh task replay {task_id} --data-dir {data_dir}")
        return 0 if status == "completed" else 1
