"""A page the platform failed to show is opened again, instead of ending the run.

The actuator reports an observation it could not make (`PageObserved.error`): the page did
not answer within the step's deadline, its browser was reset, and the reopened page did not
answer either, or reading the page timed out. On a starved machine (the drill runs twenty
processes on two cores) that is the platform's fault, and the next try usually answers; the
model, shown an empty page, could only give up. So the planner navigates to the page again
(a navigation is a GET: nothing a site records comes of it), a few times per run; a page
that never answers (a hostile `while(1){}`) still ends the run, with the actuator's error.

Pure decisions only, like domain.py; the handler appends what they return.
"""

from __future__ import annotations

from macrohard.contracts.agent import Intent
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskFailed
from macrohard.planner.domain import TaskState, decided

# An intent's reason starts with this when the platform, not the model, chose it.
RECOVER = "recover: "
# Tries per run: a page that did not answer this often will not.
MAX_RECOVERIES = 3


def recoveries(state: TaskState) -> int:
    """How often this run reopened a page the platform failed to show."""
    return sum(
        1
        for p in state.intents
        if p.intent.action == "navigate" and p.intent.reason.startswith(RECOVER)
    )


def unseen_page(
    state: TaskState,
    step: int,
    error: str,
    page_url: str,
    *,
    backend: str,
    previous_ok: bool | None,
    previous_error: str,
) -> list[Event]:
    """What to do at step `step` when the page after the last step could not be observed
    (`error`): navigate to it again, or end the run once that was tried MAX_RECOVERIES
    times. `page_url` is where the browser was; failing that, the last page the run saw,
    or its start page."""
    if recoveries(state) >= MAX_RECOVERIES:
        return [TaskFailed(task_id=state.task_id, steps=step, reason=error)]
    seen = [p.page_url for p in state.intents if p.page_url]
    url = next(
        (u for u in (page_url, *reversed(seen), state.start_url) if u.startswith("http")), ""
    )
    if not url:
        return [TaskFailed(task_id=state.task_id, steps=step, reason=error)]
    again = Intent(action="navigate", url=url, reason=f"{RECOVER}{error}"[:300])
    return decided(
        state,
        step,
        again,
        backend=backend,
        label="",
        page_url=page_url,
        previous_ok=previous_ok,
        previous_error=previous_error,
    )
