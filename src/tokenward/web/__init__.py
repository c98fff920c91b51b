"""The web UI: server-rendered pages over the same services as the API (issue 6).

Plain HTML forms that work without JavaScript; one hand-written stylesheet and script. Views
call the services only, with the session's actor, so every change is audited as the API's.
"""

from tokenward.web.routes import ui_routes

__all__ = ["ui_routes"]
