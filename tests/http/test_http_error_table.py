"""One table maps errors to answers, looked up along the exception's class hierarchy: the
nearest class with an entry wins, so a new error class needs no entry of its own."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tokenward.domain import errors
from tokenward.http.errors import HANDLERS, handler_for


@pytest.mark.parametrize(
    ("error", "entry"),
    [
        (errors.NotFound(), errors.NotFound),  # audited when an admin action fails
        (errors.InvalidInput("label", "too long"), errors.InvalidInput),
        (errors.SessionEnded(), errors.TokenwardError),  # renders its own answer
        (errors.StoreUnavailable(), errors.TokenwardError),
        (HTTPException(405), HTTPException),
        (RequestValidationError([]), RequestValidationError),
        (KeyError("x"), Exception),  # a crash: logged, a bare 500
    ],
    ids=lambda value: getattr(value, "__name__", type(value).__name__),
)
def test_the_nearest_class_with_an_entry_answers(error: Exception, entry: type) -> None:
    assert handler_for(error) is HANDLERS[entry]
