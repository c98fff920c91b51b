"""A small resource server protected by tokenward.

``GET /projects``: anonymous callers get the public projects; token holders get their own.
A dead token (expired, revoked, of a deactivated user) is answered 401, never as if no token
had been sent, so a client can tell "my token died" from "I have no projects".

    TOKENWARD_URL=http://127.0.0.1:8080 TOKENWARD_KEY=twa_… PORT=8000 python app.py
"""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tokenward.sdk import Client, RemoteVerifier, TokenwardMiddleware, caller_of

PROJECTS = [
    {"name": "website", "owner": "admin", "public": True},
    {"name": "billing", "owner": "admin", "public": False},
    {"name": "handbook", "owner": "alice", "public": True},
    {"name": "secret-sauce", "owner": "alice", "public": False},
]


async def projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    if caller is None:
        return JSONResponse({"projects": [p["name"] for p in PROJECTS if p["public"]]})
    own = [p["name"] for p in PROJECTS if p["owner"] == caller.username]
    return JSONResponse({"user": caller.username, "projects": own})


def build(url: str, key: str) -> Starlette:
    """The app, verifying tokens against the tokenward server at ``url``."""
    # The server says how stale a cache may be; the resource server keeps the same bound.
    with Client(url, timeout=5) as tokenward:  # the public policy needs no token
        bound = tokenward.policy().max_staleness_ms / 1000
    verifier = RemoteVerifier(url, key, max_staleness=bound)
    app = Starlette(routes=[Route("/projects", projects)])
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    return app


if __name__ == "__main__":
    app = build(os.environ["TOKENWARD_URL"], os.environ["TOKENWARD_KEY"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_level="info")
