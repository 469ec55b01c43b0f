"""The billing service: the rating projection, the budget signaller, the invoicer and the
withholder (a quarantined car's held answers).

Env: MH_BILLING_GRACE_DAYS (default 3), MH_BILLING_INVOICE_INTERVAL_S (default 60).
"""

from __future__ import annotations

from datetime import timedelta

from macrohard.billing.handlers import BudgetSignaller, Invoicer
from macrohard.billing.projection import BillingProjection
from macrohard.billing.withholding import Withholder
from macrohard.eventlog.service import Service, run_service


def build(service: Service) -> None:
    service.project(BillingProjection())
    grace = timedelta(days=float(service.config.extra.get("grace_days", "3")))
    interval = float(service.config.extra.get("invoice_interval_s", "60"))

    async def signal_budgets(svc: Service) -> None:
        await BudgetSignaller(svc.store, svc.pool).run()

    async def close_periods(svc: Service) -> None:
        await Invoicer(svc.store, svc.pool, grace=grace).run(interval)

    async def settle_quarantines(svc: Service) -> None:
        await Withholder(svc.store, svc.pool).run()

    service.background(signal_budgets)
    service.background(close_periods)
    service.background(settle_quarantines)


def main() -> None:
    run_service("billing", build)
