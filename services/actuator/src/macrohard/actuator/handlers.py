"""What the actuator reacts to: IntentEmitted (do it, observe) and a task's end (close).

Per-task affinity: a task's browser context lives in one process, named by the last
SessionOpened in the task's browser aggregate. Replicas share one durable consumer, so an
intent can arrive anywhere; a replica that does not hold the context forwards the intent to
the holder over core NATS (`actuator.worker.<id>`), and when nobody answers there (the holder
died: NATS reports "no responders" at once) it takes the session over: a fresh context, the
last known URL from the log, a fresh observation. The planner then decides from that.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from playwright.async_api import Error as PlaywrightError

from macrohard.actuator.actions import (
    ActionFailed,
    ActionRefused,
    ActionSettings,
    OutcomeUnknown,
    perform,
    short_error,
)
from macrohard.actuator.browser import BrowserPool, TaskBrowser
from macrohard.actuator.domain import (
    InvalidIntent,
    MissingSecret,
    effect_free,
    fill_secrets,
    scrub,
    secret_names,
    secret_origin_refusal,
    validate_intent,
    well_formed,
)
from macrohard.actuator.files import TaskFiles
from macrohard.actuator.observer import Observer
from macrohard.actuator.saved_sessions import SessionVault
from macrohard.actuator.secrets import SecretOpener, SecretSealer, SecretsUnavailable
from macrohard.actuator.session import (
    BrowserSession,
    Delivery,
    Interrupted,
    evolve,
    interrupted_outcome,
    plan_delivery,
)
from macrohard.actuator.tenants import AllowedDomains
from macrohard.actuator.totp import InvalidTotpSeed, MissingTotpSeed, fill_totp, totp_names
from macrohard.actuator.write_ahead import EffectRecorder
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import (
    ACTUATOR_WORKER_PREFIX,
    ActionExecuted,
    ActionStarted,
    PageObservation,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event, RecordedEvent, caused_by
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCompleted,
    TaskFailed,
    TaskSubmitted,
    totp_sealed_name,
)
from macrohard.eventlog.artifacts import ArtifactStore
from macrohard.eventlog.store import EventStore, Loaded
from macrohard.planner_model.web_planner.extract import extract

log = logging.getLogger("macrohard.actuator")

TASK_ENDS = (TaskCompleted, TaskFailed, TaskCancelled)
# Actions that mean the same on any page, so they are still done after a takeover.
PAGE_INDEPENDENT = frozenset({"navigate", "done", "fail"})


def new_worker_id() -> str:
    return f"act-{uuid.uuid4().hex[:12]}"


def forward_subject(worker: str) -> str:
    return f"{ACTUATOR_WORKER_PREFIX}.{worker}"


@dataclass(frozen=True, slots=True)
class ActuatorSettings:
    worker: str = field(default_factory=new_worker_id)
    local_test_mode: bool = False
    # Above the step deadline, so a slow holder is cut by its own watchdog first; only a
    # holder that died mid-request is waited for this long.
    forward_timeout_s: float = 25.0
    # One intent's whole browser work (open, act, settle, observe); below the forward
    # timeout, so a stalled page is cut here, not by a forwarding replica giving up. The
    # consumer's progress acks keep the intent meanwhile, whatever its ack wait.
    step_deadline_s: float = 20.0
    # A page whose scripts never yield must not hold the task's observation forever (inside
    # the step deadline, so an unreadable page still gets its own PageObserved with the error).
    observe_timeout_s: float = 15.0
    action: ActionSettings = field(default_factory=ActionSettings)
    upload_dir: Path | None = None
    # Replicas of a tenant's file bucket when this actuator creates it (the log's count).
    file_replicas: int = 1


class Actuator:
    """Handles intents for the tasks this process holds the browser of."""

    def __init__(
        self,
        store: EventStore,
        nc: NATS,
        pool: BrowserPool,
        observer: Observer,
        settings: ActuatorSettings,
        opener: SecretOpener | None = None,
        sealer: SecretSealer | None = None,
    ) -> None:
        self.store = store
        self.nc = nc
        self.pool = pool
        self.observer = observer
        self.settings = settings
        self.opener = opener
        self.vault = SessionVault(store, opener, sealer)
        self.domains = AllowedDomains(store)
        self.files = TaskFiles(
            ArtifactStore(nc, replicas=settings.file_replicas), store, self.domains
        )
        self._tasks: dict[str, TaskSubmitted | None] = {}
        self._sub: Subscription | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        # What this process did but has not got into the log yet, by intent event id.
        self._outcomes: dict[str, Envelope] = {}
        self._forwards: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, Loaded[BrowserSession]] = {}
        # Counters for logs and tests: how often affinity sent work elsewhere or took over.
        self.delivered = 0
        self.forwarded = 0
        self.taken_over = 0

    @property
    def worker(self) -> str:
        return self.settings.worker

    async def start(self) -> None:
        await self.pool.start()
        self._sub = await self.nc.subscribe(forward_subject(self.worker), cb=self._on_forward)

    async def stop(self, *, stop_browser: bool = True) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        await asyncio.gather(*self._forwards, return_exceptions=True)
        if stop_browser:
            await self.pool.stop()

    # ---------------------------------------------------------------- entry points

    async def handle(self, rec: RecordedEvent) -> None:
        """The durable consumer's handler (IntentEmitted and the task-end events)."""
        self.delivered += 1
        await self._dispatch(rec, forwarded=False)

    async def _on_forward(self, msg: Msg) -> None:
        # nats-py runs a subscription's callbacks one after another; forwarded intents of
        # different tasks must not wait for each other, so each gets its own task.
        job = asyncio.create_task(self._serve_forward(msg))
        self._forwards.add(job)
        job.add_done_callback(self._forwards.discard)

    async def _serve_forward(self, msg: Msg) -> None:
        try:
            rec = await self.store.read_sequence(int(msg.data))
            await self._dispatch(rec, forwarded=True)
        except Exception as exc:
            log.exception("forwarded event failed")
            await msg.respond(f"error: {short_error(exc)}".encode())
            return
        await msg.respond(b"ok")

    async def _dispatch(self, rec: RecordedEvent, *, forwarded: bool) -> None:
        event = rec.payload
        if isinstance(event, IntentEmitted):
            await self._intent(rec, event, forwarded=forwarded)
        elif isinstance(event, TASK_ENDS):
            await self._task_ended(rec, forwarded=forwarded)

    # ---------------------------------------------------------------- intents

    async def _load(self, tenant: str, task_id: str) -> Loaded[BrowserSession]:
        """The task's browser aggregate, folded on from what this process last saw of it.

        The log is append-only, so reading only the events after the cached version and
        folding them on gives exactly what a full load gives, without decoding every
        observation of the task again at every step.
        """
        cached = self._sessions.get(task_id)
        base = cached if cached is not None else Loaded(BrowserSession(), 0, 0)
        new = await self.store.read_aggregate(tenant, "browser", task_id, after=base.version)
        state = base.state
        for rec in new:
            state = evolve(state, rec.envelope)
        loaded = Loaded(state, new[-1].sequence if new else base.version, base.events + len(new))
        self._sessions[task_id] = loaded
        return loaded

    async def _forward(self, holder: str, rec: RecordedEvent) -> bool:
        """True when the holder did it; False when the holder is gone."""
        try:
            reply = await self.nc.request(
                forward_subject(holder),
                str(rec.sequence).encode(),
                timeout=self.settings.forward_timeout_s,
            )
        except NoRespondersError:
            return False
        if reply.data != b"ok":
            raise RuntimeError(f"worker {holder}: {reply.data.decode(errors='replace')}")
        return True

    def _lock(self, task_id: str) -> asyncio.Lock:
        # One intent of a task at a time in this process (a redelivery racing a forward).
        return self._locks.setdefault(task_id, asyncio.Lock())

    async def _intent(self, rec: RecordedEvent, ie: IntentEmitted, *, forwarded: bool) -> None:
        env = rec.envelope
        async with self._lock(ie.task_id):
            loaded = await self._load(env.tenant, ie.task_id)
            has_context = self.pool.get(ie.task_id) is not None
            decision = plan_delivery(
                loaded.state, env.id, worker=self.worker, has_context=has_context
            )
            if decision is Delivery.FORWARD:
                holder = loaded.state.worker
                if forwarded:
                    raise RuntimeError(f"task {ie.task_id} is held by {holder}, not here")
                if await self._forward(holder, rec):
                    self.forwarded += 1
                    return
                self.taken_over += 1
                log.warning(
                    "holder gone, taking over", extra={"task": ie.task_id, "holder": holder}
                )
                loaded = await self._load(env.tenant, ie.task_id)
                decision = plan_delivery(
                    loaded.state,
                    env.id,
                    worker=self.worker,
                    has_context=False,
                    holder_unreachable=True,
                )
            if decision is not Delivery.SKIP:
                await self._carry_out(env, ie, decision, loaded)

    async def _task_info(self, tenant: str, task_id: str) -> TaskSubmitted | None:
        if task_id not in self._tasks:
            events = await self.store.read_aggregate(tenant, "task", task_id)
            submitted = [r.payload for r in events if isinstance(r.payload, TaskSubmitted)]
            self._tasks[task_id] = submitted[0] if submitted else None
        return self._tasks[task_id]

    async def _open(
        self,
        env: Envelope,
        ie: IntentEmitted,
        loaded: Loaded[BrowserSession],
        restore: bool,
        *,
        again: bool = False,
    ) -> tuple[TaskBrowser, int]:
        """A fresh context for the task, claimed in the log (OCC: one claimant wins)."""
        task = await self._task_info(env.tenant, ie.task_id)
        saved = await self.vault.restore(env.tenant, task) if task else None
        tb = await self.pool.open(
            ie.task_id, env.tenant, await self.domains.of(env.tenant), storage_state=saved
        )
        tb.secrets = self._all_secrets(env.tenant, task)
        url = loaded.state.last_url or (task.start_url if task else "")
        opened = SessionOpened(
            task_id=ie.task_id,
            worker=self.worker,
            restored_from=loaded.state.worker if restore else "",
            url=url if restore else "",
        )
        # A second opening for the same intent (after the watchdog) is its own event.
        purpose = f"session-opened:{self.worker}" + (":again" if again else "")
        result = await self.store.append(
            [caused_by(opened, env, aggregate_id=ie.task_id, purpose=purpose)],
            expected_version=loaded.version,
        )
        # A navigation still to be done brings its own page: it does not need the old one back
        # (reloading it could bring back the very page that stopped answering). One already
        # done, whose observation was lost with the actuator that did it, brings nothing: the
        # page is opened here, or the survivor observes a blank one.
        navigating = ie.intent.action == "navigate" and env.id not in loaded.state.executed
        if restore and url and not navigating:
            try:
                await perform(tb, _navigate(url), None, self.settings.action)
            except ActionFailed as exc:
                log.warning("restore navigation failed", extra={"error": short_error(exc)})
        elif not restore and not navigating and task and task.start_url:
            # The first intent of a task acts on its start page.
            await perform(tb, _navigate(task.start_url), None, self.settings.action)
        return tb, result.version

    def _all_secrets(self, tenant: str, task: TaskSubmitted | None) -> list[str]:
        """Every plaintext of the task, so observations can be scrubbed of them."""
        if task is None or self.opener is None:
            return []
        return [
            self.opener(sealed, tenant=tenant, task_id=task.task_id, name=name)
            for name, sealed in task.secrets.items()
        ] + list(self._totp_seeds(tenant, task).values())

    def _totp_seeds(self, tenant: str, task: TaskSubmitted) -> dict[str, str]:
        assert self.opener is not None
        return {
            name: self.opener(
                sealed, tenant=tenant, task_id=task.task_id, name=totp_sealed_name(name)
            )
            for name, sealed in task.totp_seeds.items()
        }

    def _typed_text(
        self, tb: TaskBrowser, task: TaskSubmitted | None, text: str | None
    ) -> str | None:
        if text is None or not (secret_names(text) or totp_names(text)):
            return text
        if self.opener is None:
            raise SecretsUnavailable("this actuator has no secret opener installed")
        if task is None:
            raise SecretsUnavailable("the task's TaskSubmitted is not in the log")
        refusal = secret_origin_refusal(tb.page.url, task.start_url, tb.allowed_domains)
        if refusal:
            raise ActionRefused(f"blocked: {refusal}")
        values = {}
        for name in secret_names(text):
            if name not in task.secrets:
                raise MissingSecret(name)
            values[name] = self.opener(
                task.secrets[name], tenant=tb.tenant, task_id=task.task_id, name=name
            )
        text = fill_secrets(text, values)
        codes: list[str] = []
        if totp_names(text):
            # The code of this very moment: computed here, typed at once, never stored.
            text, codes = fill_totp(text, self._totp_seeds(tb.tenant, task), time.time())
        tb.secrets = sorted({*tb.secrets, *values.values(), *codes})
        return text

    async def _carry_out(
        self, env: Envelope, ie: IntentEmitted, decision: Delivery, loaded: Loaded[BrowserSession]
    ) -> None:
        step = _Step(version=loaded.version)
        try:
            # The watchdog: a page that stops answering (`while(1){}`, a renderer hang)
            # costs its own task this deadline, never more, and never another task's time.
            async with asyncio.timeout(self.settings.step_deadline_s):
                await self._browse(env, ie, decision, loaded, step)
        except TimeoutError:
            await self._recycle(env, ie, loaded, step)
        closing = ie.intent.action in ("done", "fail")
        if closing:
            step.out.append(SessionClosed(task_id=ie.task_id, reason=ie.intent.action))
        out = step.out
        # One id per event of the step (a step may refuse several downloads), derived from
        # the intent so a redelivery re-appends the same ids.
        purposes = [type(e).__name__ for e in out]
        purposes = [p if purposes[:n].count(p) == 0 else f"{p}:{purposes[:n].count(p)}"
                    for n, p in enumerate(purposes)]  # fmt: skip
        envs = [
            caused_by(e, env, aggregate_id=ie.task_id, purpose=purpose)
            for e, purpose in zip(out, purposes, strict=True)
        ]
        await self.store.append(envs, expected_version=step.version)
        if closing:
            await self._end_session_hold(env, ie.task_id)
            await self.pool.close(ie.task_id)
            self._tasks.pop(ie.task_id, None)
            self._sessions.pop(ie.task_id, None)
        log.info(
            "intent carried out",
            extra={"task": ie.task_id, "step": ie.step, "action": ie.intent.action,
                   "decision": decision.value, "events": [type(e).__name__ for e in out]},
        )  # fmt: skip

    async def _observe(self, tb: TaskBrowser, env: Envelope) -> tuple[PageObservation, str]:
        """The page as observed, or an empty observation and why the page could not be read.

        A page that cannot be read (a crashed renderer, a script that never returns) must
        still produce a PageObserved: without one the planner never decides again and the
        task would stay running forever. The error ends the task with its reason.
        """
        try:
            observation = await asyncio.wait_for(
                self.observer.observe(tb.page, tb.secrets), self.settings.observe_timeout_s
            )
            return observation, ""
        except (PlaywrightError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            error = f"the page could not be observed: {short_error(exc)}"
            log.warning(
                "observation failed",
                extra={"task": env.aggregate_id, "correlation_id": env.correlation_id,
                       "error": error},
            )  # fmt: skip
            url = well_formed(tb.page.url)
            return PageObservation(url=scrub(url, tb.secrets), title="", elements=[]), error

    async def _browse(
        self,
        env: Envelope,
        ie: IntentEmitted,
        decision: Delivery,
        loaded: Loaded[BrowserSession],
        step: _Step,
    ) -> None:
        """Act and observe in the task's context; results land in `step` as they come."""
        tb = self.pool.get(ie.task_id)
        restored = decision is Delivery.TAKE_OVER
        ending = ie.intent.action in ("done", "fail")
        if ending and loaded.state.worker and not loaded.state.open:
            # The run's end closed the session first (TaskCompleted and the planner's last
            # intent race): opening a browser only to record "done" cost every task a fresh
            # context and left a chrome-error page as its last screenshot.
            if env.id not in loaded.state.executed:
                step.out.append(
                    ActionExecuted(
                        task_id=ie.task_id, step=ie.step, intent_event_id=env.id,
                        action=ie.intent.action, ok=True,
                    )
                )  # fmt: skip
            return
        if tb is None or restored or not loaded.state.open:
            tb, step.version = await self._open(env, ie, loaded, restore=restored)
        tb.allowed_domains = await self.domains.of(env.tenant)
        tb.last_elements = dict(loaded.state.seen)
        if env.id not in loaded.state.executed:
            # The outcome is in the log before anything else can fail (settle, observe, the
            # screenshot, the next append): a redelivery then observes again, never re-acts.
            executed = await self._act_once(tb, env, ie, loaded.state, step, restored=restored)
            recorder, tb.effects = tb.effects, None
            if recorder is None:
                step.version = (
                    await self.store.append([executed], expected_version=step.version)
                ).version
            else:
                # Under the record's lock: no request is recorded after the outcome.
                try:
                    step.version = await recorder.close(executed)
                finally:
                    if recorder.outcome is not None:
                        self._outcomes[env.id] = recorder.outcome
            self._outcomes.pop(env.id, None)
            step.acted = True
        await self.observer.settle(tb.page, tb.inflight)
        if tb.downloads:
            step.out.extend(await self.files.keep_downloads(tb, env, ie))
        observation, error = await self._observe(tb, env)
        extracted = None
        if ie.intent.action == "extract" and not error:
            task = await self._task_info(env.tenant, ie.task_id)
            extracted = extracted_values(ie.intent, task, observation)
        step.out.append(
            PageObserved(
                task_id=ie.task_id,
                step=ie.step,
                observation=observation,
                intent_event_id=env.id,
                error=error,
                extracted=extracted,
            )
        )

    async def _recycle(
        self, env: Envelope, ie: IntentEmitted, loaded: Loaded[BrowserSession], step: _Step
    ) -> None:
        """The page stopped answering: drop its context, tell the planner what happened."""
        deadline = self.settings.step_deadline_s
        log.warning("page stopped answering, recycling its context", extra={"task": ie.task_id})
        stalled = self.pool.get(ie.task_id)
        url = well_formed(stalled.page.url) if stalled is not None else ""
        recorder = stalled.effects if stalled is not None else None
        if recorder is not None:
            # Closed before the context: what the write-ahead record holds is then final.
            step.version = await recorder.close()
        await self.pool.close(ie.task_id)
        error = f"the page stopped responding within {deadline:g} s; its browser was reset"
        if env.id not in loaded.state.executed and not step.acted:
            # Cut after ActionStarted was recorded: the action may have taken effect (none
            # that matters when it has no effect to repeat: the reopened page tells).
            started = step.started or env.id in loaded.state.started
            started = started and not effect_free(ie.intent.action)
            if recorder is not None and not recorder.reached:
                # Held in the route until recorded: nothing with an effect left the browser.
                started = False
            step.out.append(
                ActionExecuted(
                    task_id=ie.task_id, step=ie.step, intent_event_id=env.id,
                    action=ie.intent.action, ok=False, error=error, outcome_unknown=started,
                    duration_ms=round(deadline * 1000, 2),
                )
            )  # fmt: skip
        # An observation still comes, so the run goes on: the planner decides what next
        # (the next intent reopens the session in a fresh context).
        step.out = [e for e in step.out if not isinstance(e, PageObserved)]
        observation = await self._reopened(env, ie, loaded, step, url)
        unseen = ""
        if observation is None:
            # Not a page to decide on: the error says so (the planner opens it again).
            unseen = f"{error}, and it did not answer when reopened"
            observation = PageObservation(url=loaded.state.last_url, title=error, elements=[])
        step.out.append(
            PageObserved(
                task_id=ie.task_id,
                step=ie.step,
                observation=observation,
                intent_event_id=env.id,
                error=unseen,
            )
        )

    async def _reopened(
        self,
        env: Envelope,
        ie: IntentEmitted,
        loaded: Loaded[BrowserSession],
        step: _Step,
        url: str,
    ) -> PageObservation | None:
        """The page once more in a fresh context, or None if it stops answering again.

        A page that stalls on a loaded machine (a renderer starved of CPU, not a hostile
        script) would otherwise end its task: the model, shown an empty page, can only give
        up. The session is reopened as a takeover (`restored_from`), so the planner assumes
        nothing typed on the old page still holds; the reload is a GET of the URL the page
        was on, never a repeat of the action.
        """
        if not url.startswith(("http://", "https://")):
            url = loaded.state.last_url
        if not url:
            return None
        # What this step appended so far comes first; the reopening appends after it.
        if step.out and not step.acted:
            envs = [
                caused_by(e, env, aggregate_id=ie.task_id, purpose=type(e).__name__)
                for e in step.out
            ]
            step.version = (await self.store.append(envs, expected_version=step.version)).version
            step.acted, step.out = True, []
        # Restored from the context that stalled (this worker's, even if this very step
        # opened it): the planner then treats the reloaded page as a takeover.
        state = replace(loaded.state, worker=loaded.state.worker or self.worker)
        current = Loaded(state, step.version, loaded.events)
        try:
            async with asyncio.timeout(self.settings.step_deadline_s):
                tb, step.version = await self._open(env, ie, current, restore=True, again=True)
                if ie.intent.action == "navigate":  # _open reloads only for other actions
                    await perform(tb, _navigate(url), None, self.settings.action)
                await self.observer.settle(tb.page, tb.inflight)
                observation, error = await self._observe(tb, env)
        except (TimeoutError, ActionFailed, PlaywrightError) as exc:
            log.warning(
                "reopened page did not answer either",
                extra={"task": ie.task_id, "error": repr(exc)},
            )
            await self.pool.close(ie.task_id)
            return None
        return None if error else observation

    async def _act_once(
        self,
        tb: TaskBrowser,
        env: Envelope,
        ie: IntentEmitted,
        state: BrowserSession,
        step: _Step,
        *,
        restored: bool,
    ) -> Envelope:
        """Act at most once: record ActionStarted before touching the page; an intent that
        already has one was interrupted mid-action, so it is reported, not repeated, unless
        it has no effect to repeat (`effect_free`: a navigation is done again).

        Unless this very process did it and only failed to record it (a NATS node died under
        the append): the outcome is known here, and reporting it as unknown would have the
        planner decide on a select that did take effect as if it might not have."""
        known = self._outcomes.get(env.id)
        interrupted = env.id in state.started
        if interrupted and known is not None:
            return known
        outcome = interrupted_outcome(state, env.id, ie.intent.action) if interrupted else None
        if outcome is not None and outcome is not Interrupted.REDO:
            reported = await self._interrupted(tb, env, ie, state, outcome)
            return caused_by(reported, env, aggregate_id=ie.task_id, purpose="ActionExecuted")
        if interrupted:
            # Nothing a site records comes of doing it twice (a navigation is a GET): done
            # again, so the run goes on from the page it asked for.
            log.info(
                "interrupted action done again: it has no effect to repeat",
                extra={"task": ie.task_id, "step": ie.step, "action": ie.intent.action,
                       "correlation_id": env.correlation_id},
            )  # fmt: skip
            step.started = True
        elif not (restored and ie.intent.action not in PAGE_INDEPENDENT) and (
            ie.intent.action not in ("done", "fail")
        ):
            started = ActionStarted(
                task_id=ie.task_id,
                step=ie.step,
                intent_event_id=env.id,
                action=ie.intent.action,
            )
            appended = await self.store.append(
                [caused_by(started, env, aggregate_id=ie.task_id, purpose="ActionStarted")],
                expected_version=step.version,
            )
            step.version = appended.version
            step.started = True
            if not effect_free(ie.intent.action):
                tb.effects = EffectRecorder(self.store, env, ie, step.version, tb.secrets)
        # (Cut by the watchdog, the recorder stays armed: _recycle reads what it holds.)
        # (A request it did not send for want of its record is accounted when the recorder
        # closes: EffectRecorder.close amends the outcome.)
        result = await self._act(tb, env, ie, restored=restored)
        done = caused_by(result, env, aggregate_id=ie.task_id, purpose="ActionExecuted")
        self._outcomes[env.id] = done  # until it is in the log (see above)
        return done

    async def _interrupted(
        self,
        tb: TaskBrowser,
        env: Envelope,
        ie: IntentEmitted,
        state: BrowserSession,
        outcome: Interrupted,
    ) -> ActionExecuted:
        """What a redelivery reports for an action with effects that an actuator stopped in
        (it is never done again): the write-ahead record in the log says how far it got."""
        base = ActionExecuted(
            task_id=ie.task_id, step=ie.step, intent_event_id=env.id, action=ie.intent.action,
            ok=False,
        )  # fmt: skip
        log.info(
            "interrupted action with effects",
            extra={"task": ie.task_id, "step": ie.step, "action": ie.intent.action,
                   "outcome": outcome.value, "correlation_id": env.correlation_id},
        )  # fmt: skip
        if outcome is Interrupted.NOT_SENT:
            return msgspec.structs.replace(
                base,
                error="an actuator stopped while doing this action, before anything it did "
                "reached the site: it was not done; decide again from this page",
            )
        if outcome is Interrupted.LANDED:
            landing = state.reached[env.id]
            try:
                # A GET of where its answer led (a 303's target): never a repeat of the POST.
                await perform(tb, _navigate(landing), None, self.settings.action)
            except ActionFailed as exc:
                log.warning(
                    "landing page did not open",
                    extra={"task": ie.task_id, "error": short_error(exc, tb.secrets)},
                )
            return msgspec.structs.replace(base, ok=True, recovered=True)
        return msgspec.structs.replace(
            base,
            outcome_unknown=True,
            error="an actuator stopped while this action's request was at the site; it was "
            "not repeated and whether it took effect is unknown: decide from this page",
        )

    async def _act(
        self, tb: TaskBrowser, env: Envelope, ie: IntentEmitted, *, restored: bool
    ) -> ActionExecuted:
        intent = ie.intent
        started = time.perf_counter()
        ok, blocked, error, unknown = True, False, "", False
        try:
            if restored and intent.action not in PAGE_INDEPENDENT:
                raise ActionFailed(
                    "the browser session moved to another actuator and the page was reloaded "
                    f"from {tb.page.url}; the action was not done, decide again from this page"
                )
            validate_intent(intent)
            task = await self._task_info(env.tenant, ie.task_id)
            text = self._typed_text(tb, task, intent.text)
            uploads = []
            if intent.action == "upload" and task is not None and task.files:
                uploads = await self.files.payloads(tb.tenant, task.files, intent.values)
            await perform(tb, intent, text, self.settings.action, uploads)
        except (ActionRefused, InvalidIntent) as exc:
            ok, blocked, error = False, True, short_error(exc, tb.secrets)
        except OutcomeUnknown as exc:
            ok, unknown, error = False, True, short_error(exc, tb.secrets)
        except MissingSecret as exc:
            ok, blocked, error = False, True, f"no secret named {exc.args[0]!r} in this task"
        except MissingTotpSeed as exc:
            ok, blocked, error = False, True, f"no TOTP seed named {exc.args[0]!r} in this task"
        except InvalidTotpSeed as exc:
            ok, blocked, error = False, True, str(exc)
        except Exception as exc:  # the page said no: report it with what it showed
            ok, error = False, short_error(exc, tb.secrets)
        return ActionExecuted(
            task_id=ie.task_id,
            step=ie.step,
            intent_event_id=env.id,
            action=intent.action,
            ok=ok,
            error=scrub(error, tb.secrets),
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            blocked=blocked,
            outcome_unknown=unknown,
        )

    # ---------------------------------------------------------------- task ends

    async def _task_ended(self, rec: RecordedEvent, *, forwarded: bool) -> None:
        env = rec.envelope
        task_id = env.aggregate_id
        loaded = await self._load(env.tenant, task_id)
        state = loaded.state
        if not state.open:
            await self._end_session_hold(env, task_id)
            await self.pool.close(task_id)
            self._tasks.pop(task_id, None)
            self._sessions.pop(task_id, None)
            return
        if state.worker != self.worker and not forwarded and await self._forward(state.worker, rec):
            return
        await self._end_session_hold(env, task_id)
        await self.pool.close(task_id)
        closed = SessionClosed(task_id=task_id, reason=env.type)
        await self.store.append(
            [caused_by(closed, env, aggregate_id=task_id, purpose="SessionClosed")],
            expected_version=None,
        )
        self._tasks.pop(task_id, None)
        self._sessions.pop(task_id, None)

    async def _end_session_hold(self, cause: Envelope, task_id: str) -> None:
        """A task that held a saved session ends: seal its browser state into the session
        (or release the hold when there is no browser to read it from)."""
        task = await self._task_info(cause.tenant, task_id)
        if task is None or task.session is None:
            return
        tb = self.pool.get(task_id)
        state = None
        if tb is not None:
            try:
                state = dict(await tb.context.storage_state())
            except PlaywrightError as exc:
                error = short_error(exc)
                log.warning("browser state unreadable", extra={"task": task_id, "error": error})
        await self.vault.save(cause, task, state)


@dataclass(slots=True)
class _Step:
    """What one intent's handling produced so far (kept when the watchdog cuts it short)."""

    version: int
    out: list[Event] = field(default_factory=list)
    started: bool = False  # ActionStarted is in the log: the page may have been touched
    acted: bool = False  # ActionExecuted is in the log


def extracted_values(
    intent: Intent, task: TaskSubmitted | None, observation: PageObservation
) -> Any:
    """An `extract` intent's answer: what the model read itself (the chat backend), else the
    values the task's output_schema asks for, read off the (already scrubbed) observation."""
    if intent.data is not None:
        return intent.data
    if task is None or task.output_schema is None:
        return None
    return extract(task.output_schema, observation)


def _navigate(url: str) -> Intent:
    return Intent(action="navigate", url=url)
