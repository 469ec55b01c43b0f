"""Reading the tenant's files from the read model (`gateway.artifacts`), for the file
routes and for a task that brings files."""

from __future__ import annotations

from typing import Any

from litestar.exceptions import HTTPException, ValidationException

from macrohard.contracts.artifacts import TaskFile, file_limits
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.domain import ArtifactView

COLUMNS = "artifact_id, name, content_type, size, source, task_id, url, stored_at, deleted_at"


class FileLimitReached(HTTPException):
    status_code = 403


async def tenant_plan(ctx: GatewayContext, tenant: str) -> str:
    plan = await ctx.pool.fetchval("SELECT plan FROM gateway.tenants WHERE tenant_id = $1", tenant)
    return str(plan or "")


async def stored_bytes(ctx: GatewayContext, tenant: str) -> int:
    """The tenant's stored total: the sizes of its files not deleted."""
    total = await ctx.pool.fetchval(
        """SELECT coalesce(sum(size), 0) FROM gateway.artifacts
           WHERE tenant_id = $1 AND deleted_at IS NULL""",
        tenant,
    )
    return int(total)


def artifact_view(row: Any) -> ArtifactView:
    return ArtifactView(
        artifact_id=row["artifact_id"], name=row["name"], content_type=row["content_type"],
        size=row["size"], source=row["source"], task_id=row["task_id"], url=row["url"],
        stored_at=row["stored_at"], deleted=row["deleted_at"] is not None,
    )  # fmt: skip


async def live_artifacts(
    ctx: GatewayContext, tenant: str, artifact_ids: list[str]
) -> dict[str, ArtifactView]:
    """The tenant's files among these ids that are not deleted, by id."""
    rows = await ctx.pool.fetch(
        f"""SELECT {COLUMNS} FROM gateway.artifacts
            WHERE tenant_id = $1 AND artifact_id = ANY($2::text[]) AND deleted_at IS NULL""",
        tenant,
        artifact_ids,
    )
    return {r["artifact_id"]: artifact_view(r) for r in rows}


async def task_files(ctx: GatewayContext, tenant: str, artifact_ids: list[str]) -> list[TaskFile]:
    """The files a task brings, by artifact id: each must be one of the tenant's (not
    deleted), their names distinct (an upload names a file), their number within the plan."""
    if not artifact_ids:
        return []
    plan = await tenant_plan(ctx, tenant)
    limit = file_limits(plan).max_files_per_task
    if len(artifact_ids) > limit:
        raise FileLimitReached(detail=f"the {plan} plan allows {limit} files per task")
    found = await live_artifacts(ctx, tenant, artifact_ids)
    out: list[TaskFile] = []
    for n, artifact_id in enumerate(artifact_ids):
        a = found.get(artifact_id)
        if a is None:
            raise ValidationException(
                detail=f"files/{n}: no artifact {artifact_id}",
                extra=[{"key": f"files/{n}", "message": "not one of this tenant's files"}],
            )
        if any(f.name == a.name for f in out):
            raise ValidationException(
                detail=f"files/{n}: two files named {a.name}",
                extra=[{"key": f"files/{n}", "message": "file names must differ"}],
            )
        out.append(
            TaskFile(name=a.name, artifact_id=a.artifact_id, content_type=a.content_type,
                     size=a.size)
        )  # fmt: skip
    return out
