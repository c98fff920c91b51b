"""Scope lists with one-line descriptions, as TOKENWARD_SCOPES gives them."""

from __future__ import annotations

import pytest

from tokenward.domain.errors import InvalidInput
from tokenward.domain.scopes import (
    ADMIN,
    BUILTIN_DESCRIPTIONS,
    DEFAULT_RESOURCE_SCOPES,
    TOKENS_READ,
    describe,
    parse_scope_list,
)


def test_bare_names_separated_by_commas_still_read_as_before() -> None:
    assert parse_scope_list("read, write") == {"read": "", "write": ""}
    assert parse_scope_list("") == {}


def test_descriptions_follow_an_equals_sign_and_may_hold_commas_when_split_by_semicolons() -> None:
    text = "projects:read=Read projects, issues and comments; projects:write = Change projects"
    assert parse_scope_list(text) == {
        "projects:read": "Read projects, issues and comments",
        "projects:write": "Change projects",
    }
    assert parse_scope_list("a=First,b") == {"a": "First", "b": ""}


def test_the_default_list_describes_read_and_write() -> None:
    parsed = parse_scope_list(DEFAULT_RESOURCE_SCOPES)
    assert set(parsed) == {"read", "write"}
    assert all(parsed.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bad Scope=x", "'Bad Scope' is not a valid scope name"),
        ("=orphan description", "'' is not a valid scope name"),
        ("admin=mine", "'admin' is a built-in scope"),
        ("read=" + "x" * 201, "one line of at most 200 characters"),
        ("read=two\tparts", "one line"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_scope_list(text)
    assert message in refused.value.message


def test_every_built_in_scope_is_described_and_the_organisations_words_come_first() -> None:
    assert describe(ADMIN, {}) == BUILTIN_DESCRIPTIONS[ADMIN]
    assert describe("read", {"read": "Read projects"}) == "Read projects"
    assert describe("write", {"write": ""}) == ""
    assert describe(TOKENS_READ, {}).startswith("See your tokens")
