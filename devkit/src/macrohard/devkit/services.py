"""The services `mh up` runs and `mh run <service>` starts, by name.

Each value is the module whose `main()` runs that service as one OS process.
"""

from __future__ import annotations

import importlib

SERVICES: dict[str, str] = {
    "gateway": "macrohard.gateway.main",
    "billing": "macrohard.billing.main",
    "planner": "macrohard.planner.main",
    "actuator": "macrohard.actuator.main",
    "node-registry": "macrohard.node_registry.main",
    "scheduler": "macrohard.scheduler.main",
}

# The gateway seals task secrets with the master key and the actuator opens them; no other
# process is given it.
SECRET_HOLDERS = frozenset({"gateway", "actuator"})


def run_service(name: str) -> None:
    if name not in SERVICES:
        raise SystemExit(f"unknown service {name!r}; known: {', '.join(sorted(SERVICES))}")
    module = importlib.import_module(SERVICES[name])
    module.main()
