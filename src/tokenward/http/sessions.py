"""``/v1/session``: log in and out of the web UI (and scripts that prefer a cookie)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from tokenward.domain.errors import AuthenticationRequired
from tokenward.domain.model import Principal
from tokenward.domain.scopes import TOKENS_WRITE
from tokenward.http import views
from tokenward.http.auth import SESSION_SECRET
from tokenward.http.cookies import end_session_cookie, set_session_cookie
from tokenward.http.dependencies import actor_of, requires, runtime
from tokenward.runtime import Runtime
from tokenward.service.sessions import Login, csrf_token_for

__all__ = ["router"]

router = APIRouter(prefix="/v1/session", tags=["session"])
Rt = Annotated[Runtime, Depends(runtime)]
Writer = Annotated[Principal, Depends(requires(TOKENS_WRITE))]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: StrictStr
    password: StrictStr


class LogoutAllBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoke_tokens: StrictBool = False


@router.post("")
async def login(body: LoginBody, request: Request, rt: Rt) -> Response:
    """Password in, ``HttpOnly; SameSite=Lax`` session cookie out. One answer for an unknown
    user and a wrong password; 429 only for a name that failed too often from this address
    (a name failing from everywhere is slowed down, never refused)."""
    by = actor_of("anonymous", request)
    await anyio.sleep(rt.sessions.slowdown(body.username))
    done = await run_in_threadpool(rt.sessions.login, body.username, body.password, by)
    response = JSONResponse(_session_view(done.session.user_id, done, rt), headers=_NO_STORE)
    set_session_cookie(response, done.secret, request, rt)
    return response


@router.get("")
def current(request: Request, rt: Rt) -> JSONResponse:
    """The current session and its CSRF token (never cached: the token is a secret)."""
    principal, secret = _session_of(request)
    assert principal.session is not None  # noqa: S101 - _session_of guarantees it
    body = {
        "user": views.user_brief(principal.user),
        "csrf_token": csrf_token_for(secret),
        "expires_at": views.rfc3339(principal.session.expires_at),
    }
    return JSONResponse(body, headers=_NO_STORE)


@router.delete("", status_code=204)
def logout(request: Request, rt: Rt) -> Response:
    """End this session."""
    principal, _ = _session_of(request)
    assert principal.session is not None  # noqa: S101 - _session_of guarantees it
    rt.sessions.logout(principal.session, actor_of(principal.actor, request))
    response = Response(status_code=204)
    end_session_cookie(response, request, rt)
    return response


@router.post("/logout-all")
def logout_all(
    request: Request,
    caller: Writer,
    rt: Rt,
    body: Annotated[LogoutAllBody | None, Body()] = None,
) -> dict[str, Any]:
    """End every session of the caller; with ``revoke_tokens`` revoke all its tokens too."""
    revoke = body.revoke_tokens if body else False
    done = rt.sessions.logout_all(
        caller.user.id, revoke_tokens=revoke, by=actor_of(caller.actor, request)
    )
    return {
        "sessions_ended": done.sessions_ended,
        "tokens_revoked": done.tokens_revoked,
        "effective_by": views.rfc3339(done.effective_by),
    }


_NO_STORE = {"Cache-Control": "no-store"}


def _session_view(user_id: str, done: Login, rt: Runtime) -> dict[str, Any]:
    user = rt.accounts.by_id(user_id)
    return {
        "user": views.user_brief(user),
        "csrf_token": done.csrf_token,
        "expires_at": views.rfc3339(done.session.expires_at),
    }


def _session_of(request: Request) -> tuple[Principal, str]:
    principal: Principal | None = request.scope.get("tokenward.principal")
    secret: str | None = request.scope.get(SESSION_SECRET)
    if principal is None or principal.session is None or secret is None:
        raise AuthenticationRequired()
    return principal, secret
