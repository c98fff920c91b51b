"""Passwords over the API: ``POST /v1/account/password`` (one's own, knowing the current one)
and ``POST /v1/admin/users/{id}/password`` (an admin's reset). Both end the account's other
sessions and are audited; neither answer carries a password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StrictStr

from tokenward.domain.model import Principal
from tokenward.domain.scopes import TOKENS_WRITE
from tokenward.http.admin import Admin, admin_caller
from tokenward.http.dependencies import actor_of, requires, runtime
from tokenward.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["account"])
Rt = Annotated[Runtime, Depends(runtime)]
Writer = Annotated[Principal, Depends(requires(TOKENS_WRITE))]


class ChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: StrictStr
    new_password: StrictStr


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: StrictStr


def _session_id(caller: Principal) -> str | None:
    return None if caller.session is None else caller.session.id


@router.post("/v1/account/password")
def change_password(body: ChangeBody, request: Request, caller: Writer, rt: Rt) -> dict[str, Any]:
    """Change the caller's own password (at least 12 characters). Every other session of the
    account ends; the one making the change (if it is a session) goes on. A wrong
    ``current_password`` is 422 naming it, and counts as a failed login."""
    done = rt.credentials.change(
        caller.user.id,
        body.current_password,
        body.new_password,
        actor_of(caller.actor, request),
        keep_session=_session_id(caller),
    )
    return {"id": done.user.id, "sessions_ended": done.sessions_ended}


@router.post("/v1/admin/users/{user_id}/password", dependencies=[Depends(admin_caller)])
def reset_password(
    user_id: str, body: ResetBody, request: Request, caller: Admin, rt: Rt
) -> dict[str, Any]:
    """Set a user's password (at least 12 characters): every session of theirs ends (an
    admin resetting their own keeps the session they do it in)."""
    keep = _session_id(caller) if caller.user.id == user_id else None
    done = rt.credentials.reset(user_id, body.new_password, actor_of(caller.actor, request), keep)
    return {
        "id": done.user.id,
        "username": done.user.username,
        "sessions_ended": done.sessions_ended,
    }
