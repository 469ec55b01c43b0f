"""The planner service process: `mh run planner`.

Configuration (env): MH_PLANNER_BACKEND = triton (default) | chat | in-process;
for chat: MH_PLANNER_CHAT_URL, MH_PLANNER_CHAT_MODEL, MH_PLANNER_CHAT_API_KEY,
MH_PLANNER_CHAT_ATTEMPTS.
"""

from __future__ import annotations

from macrohard.eventlog import ConsumerSpec, Service, run_service
from macrohard.eventlog.views import ViewSpec
from macrohard.planner.backends import InProcessBackend, PlannerBackend, TritonBackend
from macrohard.planner.chat import ChatBackend, ChatConfig
from macrohard.planner.handlers import Planner

TASK_EVENTS = ConsumerSpec(
    durable="planner-tasks",
    subjects=[
        "ev.*.task.*.TaskSubmitted",
        "ev.*.task.*.TaskCancelRequested",
        "ev.*.task.*.TaskApproved",
        "ev.*.task.*.TaskApprovalDenied",
    ],
    description="start runs, cancel them, and carry on or stop on a tenant's approval answer",
    # Each message in its own task (one task's at a time): see PAGES.
    max_in_flight=32,
)
PAGES = ConsumerSpec(
    durable="planner-pages",
    subjects=["ev.*.browser.*.PageObserved"],
    description="decide the next step of a run from the page the actuator saw",
    # Each page in its own task, the loop fetching on: a decision waits for a car (up to
    # the task's car_wait_s) and for the model, and handled batch by batch one such wait
    # held every other task's next step behind it (23 s gaps between steps with 8 tasks
    # on 2 cars). A task's own pages still run one at a time.
    max_in_flight=32,
)
# Which tenants are over budget is state every replica decides with, so it is a view
# replayed from the log on every start (a shared durable consumer would give each replica
# some of the signals, and a restarted one none).
BUDGETS = ViewSpec(
    name="planner-budgets",
    subjects=["ev.*.budget.*.BudgetExhausted", "ev.*.budget.*.BudgetRestored"],
)


def make_backend(service: Service) -> PlannerBackend:
    kind = service.config.extra.get("backend", "triton")
    if kind == "in-process":
        from macrohard.planner_model.minilm import encoder  # same model as on the node

        return InProcessBackend(encoder().encode)
    if kind == "chat":
        extra = service.config.extra
        return ChatBackend(
            ChatConfig(
                url=extra["chat_url"],
                model=extra["chat_model"],
                api_key=extra.get("chat_api_key", ""),
                attempts=int(extra.get("chat_attempts", "2")),
            )
        )
    from macrohard.planner.inference import InferenceClient  # the fleet's client

    return TritonBackend(InferenceClient(service.nc, service.store))


def build(service: Service) -> Planner:
    planner = Planner(store=lambda: service.store, backend=lambda: make_backend(service))
    service.follow(BUDGETS, planner.on_budget_event)
    service.consume(TASK_EVENTS, planner.on_task_event)
    service.consume(PAGES, planner.on_page_observed)
    return planner


def main() -> None:
    run_service("planner", build)
