"""``POST /v1/leaks``: anyone reports token strings found in public; valid ones are revoked.

The answer is ``202 {"received": n}`` whatever the strings were, so a report is no oracle for
which values are tokens. Reports are limited per client address (``429`` with ``Retry-After``)
and to :data:`~tokenward.service.leaks.MAX_LEAKED_TOKENS` strings each (``422`` beyond).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.responses import JSONResponse

from tokenward.http.auth import principal_of
from tokenward.http.dependencies import actor_of, runtime
from tokenward.runtime import Runtime
from tokenward.service.leaks import MAX_LEAKED_TOKENS, MAX_SOURCE

__all__ = ["router"]

router = APIRouter(prefix="/v1/leaks", tags=["leaks"])
Rt = Annotated[Runtime, Depends(runtime)]
_MAX_STRING = 1000  # far longer than any token: a longer string is not one


def within_report_limit(request: Request, rt: Rt) -> None:
    """Count every report of the client address; past the limit, 429 (the body is not read
    further). Runs before the body is validated, so invalid reports count too."""
    key = f"ip:{request.client.host}" if request.client else "ip:unknown"
    rt.leak_reports.take(key)


class LeakReportBody(BaseModel):
    """Body of ``POST /v1/leaks``."""

    model_config = ConfigDict(extra="forbid")

    tokens: Annotated[
        list[Annotated[StrictStr, Field(max_length=_MAX_STRING)]],
        Field(max_length=MAX_LEAKED_TOKENS),
    ]
    source: Annotated[StrictStr, Field(min_length=1, max_length=MAX_SOURCE)]


@router.post("", status_code=202, dependencies=[Depends(within_report_limit)])
def report_leak(body: LeakReportBody, request: Request, rt: Rt) -> JSONResponse:
    """Report leaked tokens (anyone may). Every listed string that is a valid token is revoked
    on every node within the bound and its owner notified (``token.leaked``); the answer is the
    same whether any were valid."""
    principal = principal_of(request.scope)
    by = actor_of("anonymous" if principal is None else principal.actor, request)
    received = rt.leaks.report(body.tokens, body.source, by)
    return JSONResponse(
        {"received": received}, status_code=202, headers={"Cache-Control": "no-store"}
    )
