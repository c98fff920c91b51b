"""Forms that mint a secret (create a token, rotate, create an admin key) act once.

Each such form carries a random ``form_id``. Sending it again — a reload of the answer page
that re-posts the form, a double click, the back button — is answered with a page saying it
was already done, instead of minting a second token the person never sees. Kept per node in
memory, bounded; behind a load balancer a resend that lands on another node is not caught.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

from starlette.datastructures import FormData
from starlette.responses import Response

from tokenward.web.flash import is_refusal
from tokenward.web.forms import ActionView, Viewer
from tokenward.web.pages import new_form_id, render

__all__ = ["SENT", "SentForms", "acts_once"]

_ID_LENGTH = len(new_form_id())  # every id has the same length
_ALREADY = (
    "This form was already sent, and what it asked for was done then: a secret is shown only "
    "once, so it is not shown again. Find the token in your list; if its secret is lost, "
    "revoke it and create another."
)


class SentForms:
    """Ids of forms already acted on, oldest forgotten first."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, form_id: str) -> bool:
        """True the first time ``form_id`` is claimed (and not released since)."""
        with self._lock:
            if form_id in self._sent:
                return False
            self._sent[form_id] = None
            if len(self._sent) > self.capacity:
                self._sent.popitem(last=False)
            return True

    def release(self, form_id: str) -> None:
        """The action did not happen (a refused input, the store unreachable): the same form
        may be sent again."""
        with self._lock:
            self._sent.pop(form_id, None)


SENT = SentForms()


def acts_once(view: ActionView) -> ActionView:
    """Run ``view`` at most once per ``form_id``; a form without one (a script posting by
    hand) is not guarded."""

    @functools.wraps(view)
    def guarded(viewer: Viewer, form: FormData) -> Response:
        form_id = form.get("form_id")
        if not isinstance(form_id, str) or len(form_id) != _ID_LENGTH:
            return view(viewer, form)
        if not SENT.claim(form_id):
            return render("error.html", 409, viewer=viewer, title="Already done", message=_ALREADY)
        try:
            response = view(viewer, form)
        except BaseException:
            SENT.release(form_id)
            raise
        if response.status_code >= 400 or is_refusal(response):
            SENT.release(form_id)  # nothing was done: the form comes back with a new id
        return response

    return guarded
