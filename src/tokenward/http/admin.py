"""``/v1/admin``: users, every token, admin API keys, policy and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr
from starlette.responses import JSONResponse, Response, StreamingResponse

from tokenward.domain.errors import (
    AuthenticationRequired,
    InsufficientScope,
    InvalidInput,
    NotFound,
)
from tokenward.domain.model import MAX_SEQ, Principal, TokenStatus, UserRecord
from tokenward.domain.policy import policy_to_document
from tokenward.domain.scopes import ADMIN
from tokenward.domain.tokens import TokenKind
from tokenward.http import views
from tokenward.http.access_log import redacted
from tokenward.http.auth import principal_of
from tokenward.http.dependencies import CallerCheck, actor_of, runtime
from tokenward.http.tokens import WholeNumber
from tokenward.runtime import Runtime
from tokenward.service import NewToken, TokenPage
from tokenward.store.base import EventQuery

__all__ = ["router"]

Rt = Annotated[Runtime, Depends(runtime)]
_NO_STORE = {"Cache-Control": "no-store"}
_MAX_AUDITED_PATH = 256


def _admin(request: Request) -> Principal:
    """An org admin (web session) or an admin key with scope ``admin``; anyone else gets
    ``403 insufficient_scope``, and the refusal is audited."""
    principal = principal_of(request.scope)
    if principal is None:
        raise AuthenticationRequired()
    if not (principal.user.is_admin and principal.has_scope(ADMIN)):
        rt: Runtime = request.app.state.runtime
        # The subject is the route's template: the path itself is the caller's text, which may
        # hold a pasted secret or be longer than the column.
        route = str(getattr(request.scope.get("route"), "path", "/v1/admin"))
        rt.audit.denied(
            actor_of(principal.actor, request),
            f"{request.method} {redacted(request.url.path)[:_MAX_AUDITED_PATH]}",
            route,
            "the caller is not an admin with scope 'admin'",
        )
        raise InsufficientScope(ADMIN)
    return principal


admin_caller = CallerCheck(_admin, admin=True)
Admin = Annotated[Principal, Depends(admin_caller)]
router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(admin_caller)])


class NewUserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: StrictStr
    password: StrictStr
    is_admin: StrictBool = False
    email: StrictStr | None = None


class NewKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: StrictStr
    expires_in_days: WholeNumber | None = None
    scopes: list[StrictStr] = [ADMIN]


def _user_view(user: UserRecord, active_tokens: int | None = None) -> dict[str, Any]:
    view = {
        **views.user_brief(user),
        "status": user.status.value,
        "created_at": views.rfc3339(user.created_at),
        "email": user.email,  # null for users without one: the same shape for every user
    }
    if active_tokens is not None:
        view["active_tokens"] = active_tokens
    return view


@router.post("/users", status_code=201)
def create_user(body: NewUserBody, request: Request, caller: Admin, rt: Rt) -> JSONResponse:
    user = rt.accounts.create_user(
        body.username,
        body.password,
        is_admin=body.is_admin,
        by=actor_of(caller.actor, request),
        email=body.email,
    )
    return JSONResponse(_user_view(user), status_code=201)


@router.get("/users")
def list_users(rt: Rt) -> dict[str, Any]:
    return {"items": [_user_view(user, count) for user, count in rt.accounts.list()]}


@router.post("/users/{user_id}/deactivate")
def deactivate(
    user_id: str, request: Request, caller: Admin, rt: Rt, wait: bool = False
) -> dict[str, Any]:
    """Every token and session of the account stops; the count says how many tokens.
    ``?wait=true`` answers once every live node has applied it."""
    done = rt.accounts.deactivate(user_id, actor_of(caller.actor, request))
    view = {
        "id": done.user.id,
        "status": done.user.status.value,
        "tokens_revoked": done.tokens_revoked,
        "sessions_ended": done.sessions_ended,
        "effective_by": views.rfc3339(done.effective_by),
    }
    return views.settled_view(view, rt.receipts, done.seq, done.effective_by, wait)


@router.post("/users/{user_id}/reactivate")
def reactivate(user_id: str, request: Request, caller: Admin, rt: Rt) -> dict[str, Any]:
    """Login works again; revoked tokens stay revoked."""
    return _user_view(rt.accounts.reactivate(user_id, actor_of(caller.actor, request)))


@router.get("/tokens")
def list_tokens(
    rt: Rt,
    user: Annotated[str | None, Query(max_length=64)] = None,
    status: TokenStatus | None = None,
    kind: Annotated[str | None, Query(pattern="^(user_token|admin_key)$")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Every token of the org, newest first; filter by user (id or name), status and kind."""
    owner = None if user is None else _user_id(rt, user)
    page = rt.tokens.list(
        owner, status=status, kind=views.kind_named(kind), cursor=cursor, limit=limit
    )
    return _org_page(page, rt.clock.now())


def _org_page(page: TokenPage, now: datetime) -> dict[str, Any]:
    """A page of the org's tokens: each with its owner's id."""
    return {
        "items": [views.token_view(t, now) | {"user_id": t.user_id} for t in page.items],
        "next_cursor": page.next_cursor,
    }


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: str, request: Request, caller: Admin, rt: Rt, wait: bool = False
) -> dict[str, Any]:
    done = rt.tokens.revoke(
        token_id, by=actor_of(caller.actor, request), owner_id=None, reason="admin"
    )
    return views.revocation_answer(done, rt.receipts, wait)


@router.post("/keys", status_code=201)
def create_key(body: NewKeyBody, request: Request, caller: Admin, rt: Rt) -> JSONResponse:
    """An admin API key (``twa_…``) owned by the calling admin; 7 days unless asked, 365 at
    most (the policy's numbers)."""
    created = rt.tokens.create(
        caller.user,
        NewToken(label=body.label, scopes=tuple(body.scopes), expires_in_days=body.expires_in_days),
        by=actor_of(caller.actor, request),
        kind=TokenKind.ADMIN,
        granted_by=caller if caller.token else None,
    )
    return JSONResponse(views.created_view(created), status_code=201, headers=_NO_STORE)


@router.get("/keys")
def list_keys(
    rt: Rt,
    status: TokenStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = rt.tokens.list(None, status=status, kind=TokenKind.ADMIN, cursor=cursor, limit=limit)
    return _org_page(page, rt.clock.now())


@router.delete("/keys/{key_id}")
def revoke_key(
    key_id: str, request: Request, caller: Admin, rt: Rt, wait: bool = False
) -> dict[str, Any]:
    done = rt.tokens.revoke(
        key_id,
        by=actor_of(caller.actor, request),
        owner_id=None,
        reason="admin",
        kind=TokenKind.ADMIN,
    )
    return views.revocation_answer(done, rt.receipts, wait)


@router.get("/policy")
def get_policy(rt: Rt) -> dict[str, Any]:
    return policy_to_document(rt.policies.current())


@router.put("/policy")
def put_policy(document: dict[str, Any], request: Request, caller: Admin, rt: Rt) -> dict[str, Any]:
    """Replace the policy; every field is validated and a bad one is named (422)."""
    return policy_to_document(rt.policies.update(document, actor_of(caller.actor, request)))


@router.get("/audit")
def audit(
    request: Request,
    rt: Rt,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    type: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The event log, oldest first, paged by ``seq``; ``Accept: application/x-ndjson`` streams
    every matching event after ``after`` as one JSON object a line."""
    query = EventQuery(after, limit, type, subject, actor)
    if "application/x-ndjson" in request.headers.get("accept", ""):
        return StreamingResponse(
            _ndjson(rt, query), media_type="application/x-ndjson", headers=_NO_STORE
        )
    events = rt.audit.query(query)
    next_after = events[-1].seq if len(events) == limit else None
    return JSONResponse({"items": [views.event_view(e) for e in events], "next_after": next_after})


def _ndjson(rt: Runtime, query: EventQuery) -> Iterator[bytes]:
    after = query.after
    while True:
        page = rt.audit.query(EventQuery(after, 500, query.type, query.subject, query.actor))
        for event in page:
            yield orjson.dumps(views.event_view(event)) + b"\n"
        if len(page) < 500:
            return
        after = page[-1].seq or after


def _user_id(rt: Runtime, user: str) -> str:
    """The id of the user with id or name ``user`` (``usr_bob`` may be either); unknown: 404."""
    try:
        return rt.accounts.by_id(user).id
    except NotFound:
        pass
    try:
        return rt.accounts.by_name(user).id
    except InvalidInput as error:
        raise InvalidInput("user", error.message) from None
