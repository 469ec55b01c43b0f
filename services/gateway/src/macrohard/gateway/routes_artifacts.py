"""Files: upload one for tasks to use, list, fetch and delete the tenant's files, list a
task's downloads.

The bytes are in the Object Store under the caller's tenant (see
`macrohard.contracts.artifacts`); what the API shows comes from the `gateway.artifacts` read
model, scoped by the caller's tenant. A fetch checks both: an id that is not the caller's
file is a 404 however it was learnt, and the bytes are read under the caller's name only.
Files are served as attachments with `nosniff` and a sandbox policy: a page's HTML download
must never run as the API's origin (the console shares it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar import delete, get, post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from macrohard.contracts.artifacts import (
    ARTIFACT_ID,
    FILE_LIMITS,
    ArtifactDeleted,
    ArtifactStored,
    bare_content_type,
    file_limits,
    file_refusal,
    safe_file_name,
)
from macrohard.contracts.envelope import envelope, new_event_id
from macrohard.eventlog.artifacts import artifact_id_of
from macrohard.gateway.artifact_reads import (
    COLUMNS,
    FileLimitReached,
    artifact_view,
    live_artifacts,
    stored_bytes,
    tenant_plan,
)
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.domain import ArtifactView
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.models import ArtifactList
from macrohard.gateway.routes_tasks import _cursor, _own_task, _parse_cursor
from macrohard.gateway.routes_tenancy import AnyRequest, gw

# The largest file any plan allows: the body limit of the upload route (the plan's own
# limit is checked next, with a clearer answer).
MAX_UPLOAD_BYTES = max(limits.max_file_bytes for limits in FILE_LIMITS.values())


class UnsupportedFileType(HTTPException):
    status_code = 415


class FileTooLarge(HTTPException):
    status_code = 413


async def _own_artifact(ctx: GatewayContext, tenant: str, artifact_id: str) -> ArtifactView:
    if not ARTIFACT_ID.fullmatch(artifact_id):
        raise NotFoundException(detail=f"no artifact {artifact_id[:80]}")
    found = await live_artifacts(ctx, tenant, [artifact_id])
    if artifact_id not in found:
        raise NotFoundException(detail=f"no artifact {artifact_id}")
    return found[artifact_id]


_BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


@dataclass
class _FileUpload(Operation):
    """The upload's request body in the OpenAPI document: the file itself, any type."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The file's bytes; `Content-Type` is the file's type",
            content={"*/*": OpenAPIMediaType(schema=_BINARY)},
        )


@post(
    "/v1/artifacts",
    operation_class=_FileUpload,
    status_code=201,
    summary="Upload a file (the raw body) for tasks to use; answers its artifact id",
    description="The request body is the file itself; its `Content-Type` is the file's type "
    "and `name` its file name. The same bytes uploaded again answer the same id.",
    responses=problems(*COMMON, 403, 415),
    security=[{"bearer": []}],
    request_max_body_size=MAX_UPLOAD_BYTES,
)
async def upload_artifact(
    request: AnyRequest,
    name: Annotated[str, QueryParameter(min_length=1, max_length=255)] = "upload",
) -> ArtifactView:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    tenant = who.tenant_id
    # The raw body is the file (Litestar would decode a `data` parameter as JSON).
    data = await request.body()
    kind = bare_content_type(request.headers.get("content-type", ""))
    if not data:
        raise ValidationException(detail="the file is empty", extra=[
            {"key": "body", "message": "an empty file"}])  # fmt: skip
    plan = await tenant_plan(ctx, tenant)
    limits = file_limits(plan)
    # Type and size first, each with its own status, before anything is stored.
    reason = file_refusal(limits, plan, size=0, content_type=kind)
    if reason:
        raise UnsupportedFileType(detail=reason)
    reason = file_refusal(limits, plan, size=len(data), content_type=kind)
    if reason:
        raise FileTooLarge(detail=reason)
    artifact_id = artifact_id_of(data)
    reason = file_refusal(
        limits, plan, size=len(data), content_type=kind,
        used_bytes=await stored_bytes(ctx, tenant),
        already_stored=await ctx.files.exists(tenant, artifact_id),
    )  # fmt: skip
    if reason:
        raise FileLimitReached(detail=reason)
    stored = await ctx.files.put(tenant, data, content_type=kind)
    event = ArtifactStored(
        artifact_id=stored.artifact_id, name=safe_file_name(name), content_type=kind,
        size=stored.size, source="upload", stored_bytes=stored.size if stored.new else 0,
    )  # fmt: skip
    result = await ctx.store.append(
        [envelope(event, tenant=tenant, aggregate_id=stored.artifact_id, event_id=new_event_id())],
        expected_version=None,
    )
    await ctx.wait_seen(result.version)
    return await _own_artifact(ctx, tenant, stored.artifact_id)


@get(
    "/v1/artifacts",
    summary="The tenant's files, newest first (cursor pagination)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_artifacts(
    request: AnyRequest,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> ArtifactList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    before = _parse_cursor(cursor) if cursor else 2**62
    rows = await ctx.pool.fetch(
        f"""SELECT {COLUMNS}, stored_seq FROM gateway.artifacts
            WHERE tenant_id = $1 AND deleted_at IS NULL AND stored_seq < $2
            ORDER BY stored_seq DESC LIMIT $3""",
        who.tenant_id,
        before,
        limit + 1,
    )
    page = rows[:limit]
    return ArtifactList(
        data=[artifact_view(r) for r in page],
        next_cursor=_cursor(page[-1]["stored_seq"]) if len(rows) > limit else None,
    )


@get(
    "/v1/artifacts/{artifact_id:str}",
    summary="Fetch a file's bytes, with its content type",
    responses={
        200: ResponseSpec(
            data_container=bytes,
            generate_examples=False,
            media_type="application/octet-stream",
            description="The file's bytes (Content-Type: the file's own type), as an attachment",
        ),
        **problems(*COMMON),
    },
    security=[{"bearer": []}],
)
async def fetch_artifact(request: AnyRequest, artifact_id: FromPath[str]) -> Stream:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    found = await _own_artifact(ctx, who.tenant_id, artifact_id)
    opened = await ctx.files.open(who.tenant_id, artifact_id)
    if opened is None:
        raise NotFoundException(detail=f"no artifact {artifact_id}")
    size, chunks = opened
    # Streamed chunk by chunk from the bucket: a large file never sits whole in memory.
    return Stream(
        chunks,
        media_type=found.content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "ETag": f'"{artifact_id}"',
        },
    )


@delete(
    "/v1/artifacts/{artifact_id:str}",
    status_code=204,
    summary="Delete a file: its bytes are gone and its storage no longer counts",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def delete_artifact(request: AnyRequest, artifact_id: FromPath[str]) -> None:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    await _own_artifact(ctx, who.tenant_id, artifact_id)
    freed = await ctx.files.delete(who.tenant_id, artifact_id)
    event = ArtifactDeleted(artifact_id=artifact_id, freed_bytes=freed)
    result = await ctx.store.append(
        [envelope(event, tenant=who.tenant_id, aggregate_id=artifact_id)], expected_version=None
    )
    await ctx.wait_seen(result.version)


@get(
    "/v1/tasks/{task_id:str}/artifacts",
    summary="The files a task's pages downloaded, kept as artifacts",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def task_artifacts(request: AnyRequest, task_id: FromPath[str]) -> ArtifactList:
    ctx, tenant, view = await _own_task(request, task_id)
    live = await live_artifacts(ctx, tenant, [a.artifact_id for a in view.artifacts])
    for a in view.artifacts:
        a.deleted = a.artifact_id not in live
    return ArtifactList(data=view.artifacts)


ROUTES: list[Any] = [
    upload_artifact,
    list_artifacts,
    fetch_artifact,
    delete_artifact,
    task_artifacts,
]
