"""Files in and out of a task: artifacts, stored content-addressed, and their limits per plan.

An artifact is a file a tenant owns: a download an agent's click produced (the actuator
stores it) or a file the tenant uploaded for a task to use (the gateway stores it). Its id
is the SHA-256 of its bytes, so the same bytes are stored once per tenant however many tasks
fetch them. The bytes live in the JetStream Object Store bucket `ARTIFACTS` under
`<tenant>/<sha256>` (`object_name`); the log holds what happened to them (`ArtifactStored`,
aggregate `artifact`, id = the SHA-256), so the artifact list of a task replays and storage
bills.

Why the Object Store: the bus is already the only channel between services, and the bucket
replicates with the cluster exactly like the log; PostgreSQL only holds read models. Why one
bucket and not one per tenant: NATS permissions match whole subject tokens, so rights on
per-tenant buckets (`OBJ_ART_<tenant>`) could only be granted as rights on every stream;
one bucket keeps the gateway's and actuator's rights to exactly it. Tenants are kept apart
by the object's name, which always starts with the tenant of the request (never with
anything a client sent), and a fetch is answered only for an id the tenant's own read model
holds.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec

from macrohard.contracts.envelope import Event
from macrohard.contracts.subjects import check_token

# A JetStream Object Store bucket's stream is `OBJ_<bucket>`; its subjects `$O.<bucket>.>`.
ARTIFACT_BUCKET = "ARTIFACTS"
ARTIFACT_ID = re.compile(r"^[0-9a-f]{64}$")

ArtifactSource = Literal["download", "upload"]


def object_name(tenant: str, artifact_id: str) -> str:
    """The name a tenant's file has in the bucket: the tenant, then the SHA-256."""
    if not ARTIFACT_ID.fullmatch(artifact_id):
        raise ValueError(f"not an artifact id: {artifact_id[:80]!r}")
    return f"{check_token('tenant', tenant)}/{artifact_id}"


def safe_file_name(name: str) -> str:
    """A file name as pages and tenants may give it, made plain: no path, no control or
    quoting characters, at most 200 characters ("download" when nothing is left)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    plain = re.sub(r"[^\w.\- ()+,=@]", "_", base).strip(" .")[:200]
    return plain or "download"


class TaskFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file a task brings (`POST /v1/tasks` `files`), for its `upload` steps by name."""

    name: str
    artifact_id: str
    content_type: str
    size: int


class ArtifactStored(Event, frozen=True, kw_only=True):
    """A file was stored for the tenant (or stored again: same bytes, same id).

    `stored_bytes` is what this event added to the tenant's storage: the size when the
    bytes were not stored yet, 0 when they were (another task downloaded the same file).
    Billing meters it, so the same bytes are billed once while they are kept.
    """

    aggregate_type = "artifact"

    artifact_id: str  # SHA-256 of the bytes, hex
    name: str
    content_type: str
    size: int
    source: ArtifactSource
    task_id: str = ""  # the task that downloaded it ("" for an upload through the API)
    url: str = ""  # where a download came from
    stored_bytes: int = 0


class ArtifactDeleted(Event, frozen=True, kw_only=True):
    """The tenant deleted the artifact: its bytes are gone, its storage no longer counts."""

    aggregate_type = "artifact"

    artifact_id: str
    freed_bytes: int = 0


class DownloadRefused(Event, frozen=True, kw_only=True):
    """A download of the task was not kept: past the plan's limits (the reason says which).

    On the browser aggregate (id = the task): the actuator's record of what its page did.
    """

    aggregate_type = "browser"

    task_id: str
    name: str
    content_type: str = ""
    size: int = 0
    reason: str


EVENTS: tuple[type[Event], ...] = (ArtifactStored, ArtifactDeleted, DownloadRefused)


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What a plan allows of files: one file's size, files per task, the tenant's total,
    and the content types a file may have (shell-style patterns)."""

    max_file_bytes: int
    max_files_per_task: int
    max_total_bytes: int
    content_types: tuple[str, ...]


MB = 1024 * 1024
GB = 1024 * MB
# Documents and data a business hands over; no executables or scripts on any plan.
_DOCUMENTS = (
    "text/*",
    "image/*",
    "application/pdf",
    "application/json",
    "application/xml",
    "application/zip",
    "application/gzip",
    "application/vnd.ms-excel",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.oasis.opendocument.*",
)
FILE_LIMITS: dict[str, FileLimits] = {
    "payg": FileLimits(10 * MB, 10, 1 * GB, _DOCUMENTS),
    "team": FileLimits(50 * MB, 50, 50 * GB, (*_DOCUMENTS, "application/octet-stream")),
    "enterprise": FileLimits(
        200 * MB, 200, 1024 * GB, (*_DOCUMENTS, "application/octet-stream", "audio/*", "video/*")
    ),
}
DEFAULT_FILE_PLAN = "payg"


def file_limits(plan: str) -> FileLimits:
    """The plan's file limits; an unknown plan gets pay-as-you-go's."""
    return FILE_LIMITS.get(plan, FILE_LIMITS[DEFAULT_FILE_PLAN])


def stored_total(events: Iterable[Event]) -> int:
    """A tenant's stored bytes, folded from its artifact events (stored less freed)."""
    total = 0
    for event in events:
        if isinstance(event, ArtifactStored):
            total += event.stored_bytes
        elif isinstance(event, ArtifactDeleted):
            total -= event.freed_bytes
    return max(total, 0)


def bare_content_type(content_type: str) -> str:
    """`text/csv; charset=utf-8` -> `text/csv` (lower case; empty -> octet-stream)."""
    bare = content_type.split(";", 1)[0].strip().lower()
    return bare or "application/octet-stream"


def file_refusal(
    limits: FileLimits,
    plan: str,
    *,
    size: int,
    content_type: str,
    used_bytes: int = 0,
    task_files: int = 0,
    already_stored: bool = False,
) -> str:
    """Why a file may not be stored under these limits ("" when it may).

    `used_bytes` is the tenant's stored total, `task_files` the files its task has already.
    Bytes already stored add nothing to the total, so they are never refused for it.
    """
    kind = bare_content_type(content_type)
    if not any(fnmatch.fnmatchcase(kind, pattern) for pattern in limits.content_types):
        return f"content type {kind} is not allowed on the {plan} plan"
    if size > limits.max_file_bytes:
        return f"the file is {size} bytes; the {plan} plan allows {limits.max_file_bytes} per file"
    if task_files >= limits.max_files_per_task:
        return f"the {plan} plan allows {limits.max_files_per_task} files per task"
    if not already_stored and used_bytes + size > limits.max_total_bytes:
        return (
            f"storing it would bring the tenant's files to {used_bytes + size} bytes; "
            f"the {plan} plan allows {limits.max_total_bytes}"
        )
    return ""
