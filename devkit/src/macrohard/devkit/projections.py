"""Every projection of the platform, by name.

The catalogue asks each service's own `build()` which projections it registers (the same
code that runs in production, so the list cannot drift), plus the kernel's event index.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from macrohard.devkit.services import SERVICES
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import Projection
from macrohard.eventlog.service import Service, ServiceConfig


class _ProjectionCollector(Service):
    """A Service that only records what `build()` registers; it never connects."""

    def __init__(self) -> None:
        # With a database configured, as in production: a service registers its projections
        # only then (the node registry's fleet read model is optional). Never connected.
        super().__init__(ServiceConfig(name="mh-replay", database_url="postgresql://catalogue"))
        self.collected: list[Projection] = []

    def project(self, projection: Projection) -> None:
        self.collected.append(projection)


def load_object(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def catalogue(extra: Sequence[str] = ()) -> dict[str, Projection]:
    """name -> projection. `extra` names more as `module:attr` (a class or an instance)."""
    found: list[Projection] = [EventIndexProjection()]
    collector = _ProjectionCollector()
    for module_name in SERVICES.values():
        build = getattr(importlib.import_module(module_name), "build", None)
        if build is not None:
            build(collector)
    found.extend(collector.collected)
    for target in extra:
        obj = load_object(target)
        found.append(obj() if isinstance(obj, type) else obj)  # type: ignore[arg-type]
    return {p.name: p for p in found}
