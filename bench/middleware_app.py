"""The resource server of the middleware benchmark: one JSON route, with or without tokenward.

TOKENWARD_URL=… TOKENWARD_KEY=… BENCH_PROTECT=1 python -m uvicorn middleware_app:app
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tokenward.sdk import RemoteVerifier, TokenwardMiddleware, caller_of


async def projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    return JSONResponse({"projects": [], "user": None if caller is None else caller.username})


app = Starlette(routes=[Route("/projects", projects)])
if os.environ.get("BENCH_PROTECT") == "1":
    verifier = RemoteVerifier(os.environ["TOKENWARD_URL"], os.environ["TOKENWARD_KEY"])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
