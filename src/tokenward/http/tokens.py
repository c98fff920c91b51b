"""``/v1/tokens``: the caller's own tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
)
from starlette.responses import JSONResponse

from tokenward.domain.model import Actor, Principal, TokenStatus
from tokenward.domain.scopes import TOKENS_READ, TOKENS_WRITE
from tokenward.http import views
from tokenward.http.dependencies import actor_of, requires, runtime
from tokenward.runtime import Runtime
from tokenward.service import NewToken

__all__ = ["WholeNumber", "router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
Reader = Annotated[Principal, Depends(requires(TOKENS_READ))]
Writer = Annotated[Principal, Depends(requires(TOKENS_WRITE))]
Rt = Annotated[Runtime, Depends(runtime)]
_NO_STORE = {"Cache-Control": "no-store"}
MAX_GRACE_SECONDS = 7 * 24 * 3600


def _whole(value: object) -> object:
    """JSON has one number type, and JSON Schema's ``integer`` takes ``30.0``: a whole
    number written with a decimal point is that number (``30.5``, ``true``, ``"30"`` are not)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# The validator after the constraints, so that they show as JSON Schema's minimum/maximum.
WholeNumber = Annotated[int, Strict(), BeforeValidator(_whole)]


class CreateTokenBody(BaseModel):
    """Body of ``POST /v1/tokens``. Unknown fields are refused, so a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")

    label: StrictStr
    expires_in_days: WholeNumber | None = None
    expires_at: AwareDatetime | None = None
    never_expires: StrictBool = False
    scopes: list[StrictStr] = []


class RotateTokenBody(BaseModel):
    """Body of ``POST /v1/tokens/{id}/rotate`` (optional: no body means no grace).

    ``grace_seconds`` defaults to 0: the old secret then works until the new one is first used
    and not a moment longer, which already covers a lost response or a slow hand-over; ask for
    more when several places hold the token and switch one after another (7 days at most)."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: Annotated[
        int, Strict(), Field(ge=0, le=MAX_GRACE_SECONDS), BeforeValidator(_whole)
    ] = 0


def _actor(caller: Principal, request: Request) -> Actor:
    return actor_of(caller.actor, request)


@router.post("", status_code=201)
def create_token(body: CreateTokenBody, request: Request, caller: Writer, rt: Rt) -> JSONResponse:
    """Create a token for the caller. The secret is in this response and nowhere else."""
    created = rt.tokens.create(
        caller.user,
        NewToken(
            label=body.label,
            scopes=tuple(body.scopes),
            expires_in_days=body.expires_in_days,
            expires_at=body.expires_at,
            never_expires=body.never_expires,
        ),
        by=_actor(caller, request),
        granted_by=caller,
    )
    return JSONResponse(views.created_view(created), status_code=201, headers=_NO_STORE)


@router.get("")
def list_tokens(
    caller: Reader,
    rt: Rt,
    status: TokenStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The caller's tokens, newest first."""
    page = rt.tokens.list(caller.user.id, status=status, cursor=cursor, limit=limit)
    now = rt.tokens.clock.now()
    return {
        "items": [views.token_view(record, now) for record in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/{token_id}")
def get_token(token_id: str, caller: Reader, rt: Rt) -> dict[str, Any]:
    """One of the caller's tokens; another user's is 404."""
    record = rt.tokens.get(caller.user.id, token_id)
    return views.token_view(record, rt.tokens.clock.now())


@router.delete("/{token_id}")
def revoke_token(
    token_id: str, request: Request, caller: Writer, rt: Rt, wait: bool = False
) -> dict[str, Any]:
    """Revoke one of the caller's tokens. Idempotent; permanent. ``?wait=true`` answers once
    every live node has applied it (or at ``effective_by``) and lists the nodes that did."""
    done = rt.tokens.revoke(token_id, by=_actor(caller, request), owner_id=caller.user.id)
    return views.revocation_answer(done, rt.receipts, wait)


@router.post("/{token_id}/rotate", status_code=201)
def rotate_token(
    token_id: str,
    request: Request,
    caller: Writer,
    rt: Rt,
    body: RotateTokenBody | None = None,
) -> JSONResponse:
    """Replace one of the caller's tokens by a new one with the same label, scopes and lifetime
    length. The old secret keeps working until ``grace_seconds`` after the new one's first use
    (7 days after the rotation at most); presented after that it is refused and reported
    (``token.reuse_detected``). Revoked or expired: 409; already rotated: 409 naming the newer
    token; another user's: 404. The new secret is in this response and nowhere else."""
    grace = timedelta(seconds=(body or RotateTokenBody()).grace_seconds)
    done = rt.tokens.rotate(
        token_id,
        owner_id=caller.user.id,
        by=_actor(caller, request),
        grace=grace,
        granted_by=caller,
    )
    return JSONResponse(views.rotation_view(done), status_code=201, headers=_NO_STORE)
