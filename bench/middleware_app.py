"""The resource server of the middleware benchmark: the example's ``GET /projects``, with or
without tokenward.

TOKENWARD_URL=… TOKENWARD_KEY=… BENCH_PROTECT=1 python -m uvicorn middleware_app:app

Like ``examples/projects_api``, a token holder gets their own projects and an anonymous caller
the public ones. The project names are chosen so that both answers have the same length (the
bench checks it), so the two servers do the same work but for the middleware.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tokenward.sdk import RemoteVerifier, TokenwardMiddleware, caller_of

PROJECTS = [
    {"name": "website", "owner": "admin", "public": True},
    {"name": "billing", "owner": "admin", "public": False},
    {"name": "newsletter", "owner": "alice", "public": True},
    {"name": "secret-sauce", "owner": "alice", "public": False},
]


async def projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    if caller is None:
        names = [p["name"] for p in PROJECTS if p["public"]]
        return JSONResponse({"user": None, "projects": names})
    names = [p["name"] for p in PROJECTS if p["owner"] == caller.username]
    return JSONResponse({"user": caller.username, "projects": names})


app = Starlette(routes=[Route("/projects", projects)])
if os.environ.get("BENCH_PROTECT") == "1":
    verifier = RemoteVerifier(os.environ["TOKENWARD_URL"], os.environ["TOKENWARD_KEY"])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
