"""Logging in and out: ``/``, ``/ui/login``, ``/ui/logout``, ``/ui/logout-all``."""

from __future__ import annotations

import re
import secrets

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from tokenward.domain.errors import InvalidInput, LoginFailed, RateLimited

# One rule for the cookie's Secure flag, the API's (plain HTTP on loopback is the exception).
from tokenward.http.cookies import (
    HOST_PREFIX,
    cookie_secure,
    end_session_cookie,
    set_session_cookie,
)
from tokenward.http.dependencies import actor_of, runtime
from tokenward.passwords import MAX_LENGTH
from tokenward.runtime import Runtime
from tokenward.web.forms import (
    Viewer,
    action,
    csrf_matches,
    form_text,
    page,
    refused_csrf,
    viewer_of,
)
from tokenward.web.pages import redirect, render

__all__ = ["home", "login", "login_page", "logout", "logout_all", "logout_all_page"]

# Before a session exists, the login form is bound to a random value in this cookie
# (double submit), so that another site cannot log a browser into an account of its choosing.
LOGIN_COOKIE = "tw_login"
_FAILED = "Wrong username or password."
_TOO_LONG = f"Passwords are at most {MAX_LENGTH} characters."
_BINDING = re.compile(r"[A-Za-z0-9_-]{43}")  # what token_urlsafe(32) makes


async def home(request: Request) -> Response:
    """``/``: a person's tokens, or the login page."""
    return redirect("/ui/tokens" if viewer_of(request) else "/ui/login")


async def login_page(request: Request) -> Response:
    if viewer_of(request) is not None:
        return redirect("/ui/tokens")
    return _login_form(request, runtime(request))


def _login_cookie(request: Request, rt: Runtime) -> tuple[str, str, bool]:
    """The binding cookie's name, path and Secure flag: ``__Host-`` (and so path ``/``) where it
    is Secure, so that a sibling host cannot plant a binding of its own choosing."""
    if cookie_secure(request, rt):
        return HOST_PREFIX + LOGIN_COOKIE, "/", True
    return LOGIN_COOKIE, "/ui/login", False


def _binding_of(request: Request, rt: Runtime) -> str | None:
    """The binding cookie's value, if it is one this server could have set."""
    binding = request.cookies.get(_login_cookie(request, rt)[0])
    return binding if binding is not None and _BINDING.fullmatch(binding) else None


def _login_form(
    request: Request, rt: Runtime, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    # Kept while it lasts, so that two login tabs do not undo each other's form.
    binding = _binding_of(request, rt) or secrets.token_urlsafe(32)
    response = render(
        "login.html",
        status,
        login_token=binding,
        error=error,
        username=username,
        title="Log in",
        # A refused login answers the post itself; its history entry becomes the plain page,
        # so that Back after logging in never asks to send the form again.
        replace_url="/ui/login" if error else None,
    )
    name, path, secure = _login_cookie(request, rt)
    response.set_cookie(name, binding, httponly=True, samesite="strict", secure=secure, path=path)
    return response


async def login(request: Request) -> Response:
    """Password in, session cookie out; one message for an unknown user and a wrong password,
    and the API's failed-login limits (see :class:`tokenward.ratelimit.LoginLimits`)."""
    rt = runtime(request)
    form = await request.form(max_files=0, max_fields=10)
    # No binding cookie (what a cross-site form sends: the cookie is SameSite=Strict) is a
    # refusal, whatever the field says: an empty field must not match an absent cookie.
    binding = _binding_of(request, rt)
    if binding is None or not csrf_matches(form.get("csrf_token"), binding):
        return refused_csrf(None)
    username, password = form_text(form, "username"), form_text(form, "password")
    by = actor_of("anonymous", request)
    try:
        await anyio.sleep(rt.sessions.slowdown(username))
        done = await run_in_threadpool(rt.sessions.login, username, password, by)
    except LoginFailed:
        return _login_form(request, rt, 401, _FAILED, username)
    except InvalidInput:  # longer than any account's password: refused before hashing
        return _login_form(request, rt, 422, _TOO_LONG, username)
    except RateLimited as limited:
        response = _login_form(request, rt, 429, _too_many(limited.retry_after), username)
        response.headers["retry-after"] = str(limited.retry_after)
        return response
    response = redirect("/ui/tokens")
    set_session_cookie(response, done.secret, request, rt)
    name, path, secure = _login_cookie(request, rt)
    response.delete_cookie(name, path=path, secure=secure, httponly=True, samesite="strict")
    return response


def _too_many(seconds: int) -> str:
    return f"Too many failed attempts. Wait {seconds} seconds before trying again."


def _ended(viewer: Viewer, response: Response) -> Response:
    end_session_cookie(response, viewer.request, viewer.rt)
    return response


@action
def logout(viewer: Viewer, form: FormData) -> Response:
    """End this session."""
    session = viewer.principal.session
    assert session is not None  # noqa: S101 - a viewer always has a session
    viewer.rt.sessions.logout(session, viewer.actor)
    return _ended(viewer, redirect("/ui/login"))


@page
def logout_all_page(viewer: Viewer) -> Response:
    return render("logout_all.html", viewer=viewer, title="Log out everywhere")


@action
def logout_all(viewer: Viewer, form: FormData) -> Response:
    """End every session of this person, and revoke all their tokens if asked."""
    revoke = form.get("revoke_tokens") == "yes"
    done = viewer.rt.sessions.logout_all(viewer.user_id, revoke_tokens=revoke, by=viewer.actor)
    response = render(
        "logged_out_all.html", done=done, title="Logged out everywhere", replace_url="/ui/login"
    )
    return _ended(viewer, response)
