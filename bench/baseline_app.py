"""The baseline: a bare Starlette app with one JSON route and nothing else.

``bench/verify.py`` serves it with the same uvicorn settings as ``tokenward serve``, so the
difference between the two runs is tokenward's own work per request.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["app"]


async def status(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/", status, methods=["GET"])])
