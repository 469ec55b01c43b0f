"""Who may say what on the bus: every NATS identity of the platform and its rights, once.

Each service and each car connects as its own NATS user. What that user may do is declared
here and nowhere else: deploy/nats/services.conf (compose) and the configuration `mh up
--secure` writes are rendered from these declarations (`macrohard.contracts.nats_config`),
and a test fails when the committed file drifts or when the code uses a subject (an event it
builds, a core subject it names) that its identity does not declare.

The rules the declarations follow, and why:
- **Appends are granted per event type**, on the type segment of the subject
  (`ev.<tenant>.<aggregate>.<id>.<Type>`): the actuator may store `ActionExecuted` but not
  `TaskCompleted`, a car may store only its own node's state changes. The kernel refuses an
  event whose envelope disagrees with its subject, so the subject NATS allowed is the truth.
- **Every identity has its own inbox prefix** (`_INBOX_<name>`), used for request replies,
  JetStream API answers, pull-consumer deliveries and direct-get replies. Nobody may
  subscribe `_INBOX.>` or `>`, so nobody reads another's deliveries.
- **Services read the log; cars do not.** A service may run consumers and direct gets on
  EVENTS (it consumes cross-context events by design), but fetches and acks only on its own
  durables. A car gets no JetStream API at all: no stream info, no subject listing, no direct
  get, no consumer; it publishes its events and heartbeats and hears only its own inbox and
  its own per-car subjects.
"""

from __future__ import annotations

from dataclasses import dataclass

from macrohard.contracts import (
    agent,
    approvals,
    artifacts,
    billing,
    browser,
    fleet,
    schedules,
    sessions,
    tasks,
    tenancy,
)
from macrohard.contracts.envelope import Event
from macrohard.contracts.subjects import (
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENTS_STREAM,
    PLATFORM_TENANT,
    SUBMISSION_CLAIMS_BUCKET,
    check_token,
    dlq_retry_subject,
)

# JetStream API every service needs to find the streams (the kernel's ensure_streams and
# key_value look them up; only the one-shot `mh streams init` creates them) and to read the
# log by direct get and ordered consumers (projections, aggregate loads).
_LOG_READER_API = (
    "$JS.API.INFO",
    "$JS.API.STREAM.INFO.*",
    f"$JS.API.DIRECT.GET.{EVENTS_STREAM}",
    f"$JS.API.DIRECT.GET.{EVENTS_STREAM}.>",
    # Ephemeral ordered consumers (projections, the registry's fleet view, SSE).
    f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}",
    f"$JS.API.CONSUMER.INFO.{EVENTS_STREAM}.*",
    "$JS.FC.>",
)


# What running dead letters again takes (`mh dlq retry`, the console's Retry button): list
# them by direct get, delete one once its consumer handled it, and ask a consumer's
# replicas to handle again the event at a sequence of the log (`dead_letter_retries`: the
# platform's declared consumers, each by name). A retry names a place in the log, never an
# event: the consumer reads the event from the log and handles it only when its own filter
# selects it, so the right to retry is no right to feed a consumer anything.
_DEAD_LETTER_OPERATOR_API = (
    f"$JS.API.DIRECT.GET.{DLQ_STREAM}",
    f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}",
)


# What storing and fetching tenants' files takes (the JetStream Object Store bucket
# ARTIFACTS, created on first use): chunks and metadata under `$O.ARTIFACTS.>`, the bucket's
# stream created and purged (a delete), an object's last metadata read by message get, its
# chunks by direct get (the kernel's reader). Only the gateway and the actuator hold files.
_OBJ = f"OBJ_{artifacts.ARTIFACT_BUCKET}"
ARTIFACT_STORE_API = (
    f"$O.{artifacts.ARTIFACT_BUCKET}.>",
    f"$JS.API.STREAM.CREATE.{_OBJ}",
    f"$JS.API.STREAM.PURGE.{_OBJ}",
    f"$JS.API.STREAM.MSG.GET.{_OBJ}",
    f"$JS.API.DIRECT.GET.{_OBJ}",
)


@dataclass(frozen=True, slots=True)
class Identity:
    """One NATS user: what it appends to the log, which core subjects it uses, its consumers.

    `appends` are (tenant token, event class): `*` for tenant-owned aggregates, the platform
    token for platform aggregates. For a car, `aggregate_id` pins every append to its own node.
    """

    name: str
    appends: tuple[tuple[str, type[Event]], ...] = ()
    # Core NATS subjects it sends to (requests, telemetry) and listens on.
    publishes: tuple[str, ...] = ()
    listens: tuple[str, ...] = ()
    # Durable consumers on EVENTS it runs (replicas share them); also its DLQ retry subjects.
    consumers: tuple[str, ...] = ()
    # It answers requests sent to it (the server lets it reply to the requester's inbox).
    responds: bool = False
    reads_log: bool = True
    # It lists, retries and deletes any consumer's dead letters (operator actions).
    operates_dead_letters: bool = False
    aggregate_id: str = "*"

    @property
    def inbox_prefix(self) -> str:
        """The prefix of every reply subject this identity creates (nats-py `inbox_prefix`)."""
        return inbox_prefix(self.name)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(cls.__name__ for _, cls in self.appends)

    def append_subjects(self) -> list[str]:
        return [
            f"{EVENT_PREFIX}.{tenant}.{cls.aggregate_type}.{self.aggregate_id}.{cls.__name__}"
            for tenant, cls in self.appends
        ]

    def publish_allow(self) -> list[str]:
        """Every subject this identity may publish to (NATS `permissions.publish.allow`)."""
        allow = self.append_subjects() + list(self.publishes)
        if self.operates_dead_letters:
            allow += list(_DEAD_LETTER_OPERATOR_API) + dead_letter_retries()
        if self.reads_log:
            allow += list(_LOG_READER_API)
            for d in self.consumers:
                # Named creation (server >= 2.9, with and without a filter), and the older
                # durable form: only on its own durables, so it cannot rewrite another's.
                allow += [
                    f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}.{d}",
                    f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}.{d}.>",
                    f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.{d}",
                ]
            allow += [f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{d}" for d in self.consumers]
            allow += [f"$JS.ACK.{EVENTS_STREAM}.{d}.>" for d in self.consumers]
            # Dead letters go to the DLQ stream (consumers and projections alike).
            allow.append(f"{DLQ_PREFIX}.>")
        return allow

    def subscribe_allow(self) -> list[str]:
        """Every subject this identity may subscribe to (NATS `permissions.subscribe.allow`)."""
        return (
            [f"{self.inbox_prefix}.>"]
            + list(self.listens)
            + [dlq_retry_subject(d) for d in self.consumers]
        )


_TASK = "*"
_PLATFORM = PLATFORM_TENANT

SERVICES: tuple[Identity, ...] = (
    Identity(
        name="gateway",
        appends=(
            (_TASK, tenancy.TenantOnboarded),
            (_TASK, tenancy.ApiKeyIssued),
            (_TASK, tenancy.ApiKeyRevoked),
            (_TASK, tasks.TaskSubmitted),
            (_TASK, tasks.TaskCancelRequested),
            (_TASK, tasks.WebhookAttempted),
            # A tenant's approval policy, and its answers to a paused run.
            (_TASK, approvals.ApprovalPolicySet),
            (_TASK, approvals.TaskApproved),
            (_TASK, approvals.TaskApprovalDenied),
            # A tenant's schedules (the scheduler submits what they start).
            (_TASK, schedules.ScheduleCreated),
            (_TASK, schedules.SchedulePaused),
            (_TASK, schedules.ScheduleResumed),
            (_TASK, schedules.ScheduleDeleted),
            # Saved sessions: who holds one, and the tenant deleting one.
            (_TASK, sessions.SessionClaimed),
            (_TASK, sessions.SessionReleased),
            (_TASK, sessions.SessionDeleted),
            # Files a tenant uploads for its tasks, and deletes.
            (_TASK, artifacts.ArtifactStored),
            (_TASK, artifacts.ArtifactDeleted),
        ),
        # Replicas claim an Idempotency-Key in flight in one KV bucket (compare-and-set);
        # the tenants' files live in the Object Store.
        publishes=(
            f"$KV.{SUBMISSION_CLAIMS_BUCKET}.>",
            f"$JS.API.DIRECT.GET.KV_{SUBMISSION_CLAIMS_BUCKET}.>",
            f"$JS.API.STREAM.MSG.GET.KV_{SUBMISSION_CLAIMS_BUCKET}",
            *ARTIFACT_STORE_API,
        ),
        consumers=("gateway-webhooks",),
        # The operator's console: its Retry button does what `mh dlq retry` does.
        operates_dead_letters=True,
    ),
    Identity(
        name="planner",
        appends=(
            (_TASK, tasks.TaskStarted),
            (_TASK, tasks.TaskCompleted),
            (_TASK, tasks.TaskFailed),
            (_TASK, tasks.TaskCancelled),
            (_TASK, approvals.TaskNeedsApproval),
            (_TASK, agent.LeaseRequested),
            (_TASK, agent.IntentEmitted),
            (_TASK, agent.InferenceCompleted),
            (_TASK, agent.RunLearned),  # the tenant's playbook (ev.<tenant>.playbook.…)
            (_TASK, agent.InferenceVerified),
            (_TASK, agent.InferenceDisputed),
        ),
        # Inference goes to a car over the bus, on the car's own work subject.
        publishes=(
            fleet.LEASE_REQUEST,
            fleet.LEASE_RENEW,
            fleet.LEASE_RELEASE,
            f"{fleet.INFER_PREFIX}.*",
        ),
        listens=(fleet.LEASE_REVOCATIONS,),
        consumers=("planner-tasks", "planner-pages"),
    ),
    Identity(
        name="actuator",
        appends=(
            (_TASK, browser.SessionOpened),
            (_TASK, browser.ActionStarted),
            (_TASK, browser.ActionReachedSite),
            (_TASK, browser.ActionLanded),
            (_TASK, browser.ActionExecuted),
            (_TASK, browser.PageObserved),
            (_TASK, browser.SessionClosed),
            # A saved session's sealed browser state, or the end of a hold without one.
            (_TASK, sessions.SessionSaved),
            (_TASK, sessions.SessionReleased),
            # What a task's page downloaded (kept, or refused past the plan's limits).
            (_TASK, artifacts.ArtifactStored),
            (_TASK, artifacts.DownloadRefused),
        ),
        # Replicas hand a task's intent to the replica holding its browser context.
        publishes=(f"{browser.ACTUATOR_WORKER_PREFIX}.*", *ARTIFACT_STORE_API),
        listens=(f"{browser.ACTUATOR_WORKER_PREFIX}.*",),
        consumers=("actuator",),
        responds=True,
    ),
    Identity(
        name="node-registry",
        appends=(
            (_PLATFORM, fleet.NodeLost),
            (_PLATFORM, fleet.NodeRecovered),
            # What heartbeats revealed about the charge, written once a threshold is crossed.
            (_PLATFORM, fleet.NodeBatteryChanged),
            (_PLATFORM, fleet.NodeQuarantined),
            (_PLATFORM, fleet.LeaseGranted),
            (_PLATFORM, fleet.LeaseRenewed),
            (_PLATFORM, fleet.LeaseReleased),
            (_PLATFORM, fleet.LeaseRevoked),
        ),
        # Replicas share the fleet through one KV bucket: the partition table and lease
        # slots, both written by compare-and-set (created on first use).
        publishes=(
            f"$KV.{fleet.REGISTRY_BUCKET}.>",
            f"$JS.API.STREAM.CREATE.KV_{fleet.REGISTRY_BUCKET}",
            f"$JS.API.DIRECT.GET.KV_{fleet.REGISTRY_BUCKET}.>",
            f"$JS.API.STREAM.MSG.GET.KV_{fleet.REGISTRY_BUCKET}",
        ),
        listens=(
            # One partition's heartbeats per subscription (fleet.hb.<partition>.<car>).
            f"{fleet.HEARTBEAT_PREFIX}.*.*",
            fleet.LEASE_REQUEST,
            fleet.LEASE_RENEW,
            fleet.LEASE_RELEASE,
            fleet.FLEET_STATS,
        ),
        responds=True,
    ),
    Identity(
        name="billing",
        appends=(
            (_TASK, billing.InvoiceDrafted),
            (_TASK, billing.InvoiceFinalized),
            (_TASK, billing.InvoiceCorrected),
            # A quarantined car's held answers: credited, and traced in their tasks' logs.
            (_TASK, billing.AnswersCredited),
            (_TASK, agent.InferenceRetracted),
            (_TASK, billing.BudgetExhausted),
            (_TASK, billing.BudgetRestored),
            (_PLATFORM, billing.PayoutStated),
        ),
    ),
    Identity(
        name="scheduler",
        # It starts the runs a tenant's schedules call for; it reads schedules from the log.
        appends=((_TASK, tasks.TaskSubmitted),),
    ),
)

# What a car says about itself (NodeLost/NodeRecovered are the registry's to decide).
CAR_EVENTS: tuple[type[Event], ...] = (
    fleet.NodeRegistered,
    fleet.NodeParked,
    fleet.NodeUnparked,
    fleet.NodeChargingChanged,
    fleet.NodeBatteryChanged,
    fleet.NodeThrottled,
    fleet.OwnerPreferencesSet,  # the owner's terms, stated through their own car
)


def car(node_id: str) -> Identity:
    """A car's identity: its own node's events and heartbeat, its own inbox and work
    subject, nothing else."""
    check_token("node id", node_id)
    return Identity(
        name=node_id,
        appends=tuple((_PLATFORM, cls) for cls in CAR_EVENTS),
        aggregate_id=node_id,
        publishes=(fleet.heartbeat_subject(node_id),),
        # Work comes to the car over the bus (it dials out); it answers each request once.
        listens=(fleet.infer_subject(node_id),),
        responds=True,
        reads_log=False,
    )


def dead_letter_retries() -> list[str]:
    """The retry subject of every durable consumer a service declares (and no other)."""
    return [dlq_retry_subject(d) for ident in SERVICES for d in ident.consumers]


def service(name: str) -> Identity:
    for ident in SERVICES:
        if ident.name == name:
            return ident
    raise KeyError(f"no NATS identity declared for service {name!r}")


def inbox_prefix(name: str) -> str:
    """The inbox prefix of the identity called `name` (a service or a car)."""
    return f"_INBOX_{check_token('identity', name)}"
