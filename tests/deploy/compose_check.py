"""Checks of deploy/docker-compose.yml that need no Docker engine.

`problems(compose, deploy_dir)` returns every inconsistency as a sentence naming the service
and what is wrong; an empty list means the file is good. The schema says what shape a
compose file has; the rest says whether this one can actually run: commands exist in `mh`,
published ports are ones the service listens on, volumes and networks are declared,
depends_on conditions can be met, images build, NATS users exist with the right passwords,
every service and car connects as its own identity, the admin token and secrets key reach
exactly the containers `mh up` gives them to (as compose secrets), a published port is bound
on every interface inside its container, and cars accept no inbound connection.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from macrohard.devkit.services import SECRET_HOLDERS

SCHEMA = Path(__file__).with_name("compose_spec.json")
# Replicas share consumers (and the scheduler decides each tick once, through the log).
SCALABLE = {"planner", "actuator", "node-registry", "billing", "scheduler"}
VAR = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")
URL_PORT = re.compile(r"https?://[^/:]+:(\d+)")
NATS_USER = re.compile(r"^nats://([^:@]+):\$\{([A-Z0-9_]+)\}@")
# Secret -> (compose secret name, the identities `mh up` hands it to).
SECRETS = {
    "MH_SECRETS_KEY": ("mh_secrets_key", SECRET_HOLDERS),
    "MH_ADMIN_TOKEN": ("mh_admin_token", frozenset({"gateway"})),
}


def identity_of(command: list[str]) -> str | None:
    """Which NATS identity an `mh` command runs as: `run <service>`, `node --id <car>`."""
    if command[:1] == ["run"] and len(command) > 1:
        return str(command[1])
    if command[:1] == ["node"] and "--id" in command:
        return str(command[command.index("--id") + 1])
    return None


def secret_problems(name: str, svc: dict[str, Any], identity: str | None) -> list[str]:
    found = []
    env = _env(svc)
    mounted = {str(s if isinstance(s, str) else s.get("source")) for s in svc.get("secrets") or []}
    for var, (secret, holders) in SECRETS.items():
        if var in env:
            found.append(
                f"{name}: {var} in its environment (docker inspect shows it): use a secret"
            )
        if identity in holders:
            if secret not in mounted or env.get(f"{var}_FILE") != f"/run/secrets/{secret}":
                found.append(f"{name}: needs secret {secret} with {var}_FILE=/run/secrets/{secret}")
        elif secret in mounted or f"{var}_FILE" in env:
            found.append(f"{name}: is given {secret}, which only {sorted(holders)} may hold")
    return found


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return data


def schema_problems(compose: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    return [
        f"schema: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(compose), key=lambda e: list(map(str, e.path)))
    ]


@functools.cache
def _mh_parser() -> argparse.ArgumentParser:
    # The compose file must run real `mh` commands: check them with mh's own parser. (A
    # subprocess per command was exact too, but took minutes on a loaded machine.)
    from macrohard.cli.main import build_parser

    return build_parser()


def mh_command_problem(argv: list[str]) -> str | None:
    """None when `mh ARGV` parses with the real `mh` parser, else argparse's complaint."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            _mh_parser().parse_args(argv)
        except SystemExit as exc:
            if exc.code:
                return err.getvalue().strip().splitlines()[-1] if err.getvalue() else "error"
    return None


def runs_mh(service: dict[str, Any], deploy_dir: Path) -> bool:
    build = service.get("build")
    if isinstance(build, dict):
        return str(build.get("dockerfile", "")).startswith("deploy/images/")
    return str(service.get("image", "")).startswith("${MH_IMAGE")


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def _published(service: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for spec in service.get("ports") or []:
        parts = str(spec).rsplit(":", 1)
        host = parts[0] if len(parts) == 2 else ""
        out.append((host, parts[-1].split("/")[0]))
    return out


def _dockerfile_targets(path: Path) -> set[str]:
    return {
        m.group(1) for m in re.finditer(r"^FROM\s+\S+\s+AS\s+(\S+)", path.read_text(), re.M | re.I)
    }


def _nats_users(conf: str) -> dict[str, str]:
    """user -> the environment variable holding its password, from services.conf."""
    return dict(re.findall(r"user:\s*([\w-]+),\s*password:\s*\$([A-Z0-9_]+)", conf))


def problems(compose: dict[str, Any], deploy_dir: Path) -> list[str]:
    found = schema_problems(compose)
    services: dict[str, dict[str, Any]] = compose.get("services") or {}
    volumes = set((compose.get("volumes") or {}).keys())
    networks = set((compose.get("networks") or {}).keys())
    env_example = (deploy_dir / ".env.example").read_text()
    example = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", env_example, re.M))
    defined_vars = set(example)
    nats_conf = (deploy_dir / "nats" / "services.conf").read_text()
    users = _nats_users(nats_conf)
    used_volumes: set[str] = set()
    host_ports: dict[str, str] = {}
    nats_nodes = [n for n, s in services.items() if str(s.get("image", "")).startswith("nats:")]

    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        env = _env(svc)
        listen_ports = {v for k, v in env.items() if k.endswith("_PORT")}
        command = svc.get("command")
        if isinstance(command, list):
            argv = [str(a) for a in command]
            listen_ports |= {
                argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--http-port", "--grpc-port")
            }
        identity = identity_of([str(a) for a in command]) if isinstance(command, list) else None
        if runs_mh(svc, deploy_dir):
            found += secret_problems(name, svc, identity)
            for secret in (
                s if isinstance(s, str) else s.get("source") for s in svc.get("secrets") or []
            ):
                if secret not in (compose.get("secrets") or {}):
                    found.append(f"{name}: secret {secret!r} is not declared")
            is_car = isinstance(command, list) and command[:1] == ["node"]
            if is_car and (svc.get("ports") or svc.get("expose")):
                found.append(f"{name}: a car dials out and accepts no connection: no ports/expose")
            if svc.get("ports") and identity:
                host_var = f"MH_{identity.upper().replace('-', '_')}_HTTP_HOST"
                if env.get(host_var) != "0.0.0.0":
                    found.append(
                        f"{name}: publishes a port but binds 127.0.0.1 in its container "
                        f"(set {host_var}=0.0.0.0)"
                    )
            if not isinstance(command, list):
                found.append(f"{name}: command must be a list of `mh` arguments")
            else:
                problem = mh_command_problem([str(a) for a in command])
                if problem:
                    found.append(
                        f"{name}: `mh {' '.join(map(str, command))}` is not a command: {problem}"
                    )
                if command[:1] == ["run"] and len(command) > 1:
                    key = f"MH_{str(command[1]).upper().replace('-', '_')}_METRICS_PORT"
                    for needed in ("MH_NATS_URL", "MH_DATABASE_URL", key):
                        if needed not in env:
                            found.append(f"{name}: `mh run {command[1]}` needs {needed}")
            nats_url = env.get("MH_NATS_URL", "")
            seeds = [NATS_USER.match(u) for u in nats_url.split(",") if u]
            m = seeds[0] if seeds else None
            if nats_url and not all(seeds):
                found.append(f"{name}: MH_NATS_URL must name a NATS user and password variable")
            elif m and len({(s.group(1), s.group(2)) for s in seeds if s}) > 1:
                found.append(f"{name}: MH_NATS_URL mixes NATS users in its seed list")
            elif m and users.get(m.group(1)) != m.group(2):
                found.append(
                    f"{name}: NATS user {m.group(1)!r} with ${{{m.group(2)}}} is not in "
                    "deploy/nats/services.conf"
                )
            elif m and identity and m.group(1) != identity:
                found.append(
                    f"{name}: connects to NATS as {m.group(1)!r}, not as its own identity "
                    f"{identity!r}"
                )
            hosts = set(re.findall(r"@([^:/,]+)", nats_url))
            if nats_url and svc.get("restart") != "no" and hosts != set(nats_nodes):
                found.append(
                    f"{name}: MH_NATS_URL seeds {sorted(hosts)}, not every NATS node "
                    f"{sorted(nats_nodes)} (it could not fail over)"
                )
        if name in SCALABLE:
            if "container_name" in svc:
                found.append(f"{name}: container_name stops `--scale {name}=N`")
            if svc.get("ports"):
                found.append(f"{name}: a host port stops `--scale {name}=N` (use expose)")
        for host, container in _published(svc):
            if runs_mh(svc, deploy_dir) and container not in listen_ports:
                found.append(f"{name}: publishes {container} but listens on {sorted(listen_ports)}")
            # Compare what the host port will be: `${MH_GATEWAY_PORT:-8080}` -> 8080.
            host = VAR.sub(lambda m: example.get(m.group(1)) or (m.group(2) or "")[2:], host)
            if host:
                if host in host_ports:
                    found.append(f"{name}: host port {host} also published by {host_ports[host]}")
                host_ports[host] = name
        health = _healthcheck_text(svc)
        if runs_mh(svc, deploy_dir) and health:
            for port in URL_PORT.findall(health):
                exposed = {str(p) for p in svc.get("expose") or []}
                if port not in listen_ports and port not in exposed:
                    found.append(f"{name}: healthcheck probes port {port}, which it does not serve")
        for spec in svc.get("volumes") or []:
            source = str(spec).split(":", 1)[0]
            if source.startswith((".", "/")):
                if not (deploy_dir / source).exists():
                    found.append(f"{name}: bind mount {source} does not exist")
            else:
                used_volumes.add(source)
                if source not in volumes:
                    found.append(f"{name}: volume {source!r} is not declared")
        for net in svc.get("networks") or []:
            if net not in networks:
                found.append(f"{name}: network {net!r} is not declared")
        depends = svc.get("depends_on") or {}
        for dep, cond in (
            depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)
        ):
            target = services.get(dep)
            if target is None:
                found.append(f"{name}: depends on unknown service {dep!r}")
                continue
            condition = (cond or {}).get("condition", "service_started")
            if condition == "service_healthy" and not target.get("healthcheck"):
                found.append(f"{name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
            if condition == "service_completed_successfully" and target.get("restart") not in (
                "no",
                None,
            ):
                found.append(f"{name}: waits for one-shot {dep} to complete, but it restarts")
        build = svc.get("build")
        if isinstance(build, dict):
            context = (deploy_dir / str(build.get("context", "."))).resolve()
            dockerfile = context / str(build.get("dockerfile", "Dockerfile"))
            if not dockerfile.exists():
                found.append(f"{name}: Dockerfile {dockerfile} does not exist")
            elif build.get("target") and build["target"] not in _dockerfile_targets(dockerfile):
                found.append(f"{name}: Dockerfile has no stage {build['target']!r}")
        if name in nats_nodes and not any(
            str(v).endswith(":/data") for v in svc.get("volumes", [])
        ):
            found.append(f"{name}: JetStream file storage needs a volume at /data")
        if isinstance(command, list) and command[:2] == ["streams", "init"]:
            replicas = command[command.index("--replicas") + 1] if "--replicas" in command else "1"
            if str(replicas) != str(len(nats_nodes)):
                found.append(
                    f"{name}: --replicas {replicas} but the cluster has {len(nats_nodes)} nodes"
                )

    for unused in sorted(volumes - used_volumes):
        found.append(f"volume {unused!r} is declared but never used")
    text = yaml.safe_dump(compose)
    for var, default in set(VAR.findall(text)):
        if var not in defined_vars and not default.startswith((":-", "-")):
            found.append(f"${{{var}}} is used but not in deploy/.env.example")
    for var in re.findall(r":\s*\$([A-Z][A-Z0-9_]+)", nats_conf):
        if var not in defined_vars:
            found.append(f"deploy/nats/services.conf reads ${var}, not in deploy/.env.example")
    routes = (deploy_dir / "nats" / "nats.conf").read_text()
    for node in nats_nodes:
        if f"nats-route://{node}:6222" not in routes:
            found.append(f"{node}: not in the cluster routes of deploy/nats/nats.conf")
    seen: dict[str, int] = {}

    def cyclic(node: str) -> bool:
        if seen.get(node) == 1:
            return True
        if seen.get(node) == 2:
            return False
        seen[node] = 1
        deps = (services.get(node) or {}).get("depends_on") or {}
        if any(d in services and cyclic(d) for d in deps):
            return True
        seen[node] = 2
        return False

    for node in services:
        if cyclic(node):
            found.append(f"depends_on has a cycle through {node}")
            break
    return found
