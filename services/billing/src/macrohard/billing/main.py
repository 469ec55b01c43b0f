"""The billing service: the rating projection, the budget signaller and the invoicer.

Env: MH_BILLING_GRACE_DAYS (default 3), MH_BILLING_INVOICE_INTERVAL_S (default 60).
"""

from __future__ import annotations

from datetime import timedelta

from macrohard.billing.handlers import BudgetSignaller, Invoicer
from macrohard.billing.projection import BillingProjection
from macrohard.eventlog.service import Service, run_service


def build(service: Service) -> None:
    service.project(BillingProjection())
    grace = timedelta(days=float(service.config.extra.get("grace_days", "3")))
    interval = float(service.config.extra.get("invoice_interval_s", "60"))

    async def signal_budgets(svc: Service) -> None:
        await BudgetSignaller(svc.store, svc.pool).run()

    async def close_periods(svc: Service) -> None:
        await Invoicer(svc.store, svc.pool, grace=grace).run(interval)

    service.background(signal_budgets)
    service.background(close_periods)


def main() -> None:
    run_service("billing", build)
