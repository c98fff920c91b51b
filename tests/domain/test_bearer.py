"""RFC 6750 header reading, as pure functions over raw bytes."""

import pytest

from tokenward.domain.bearer import (
    Absent,
    Bearer,
    Malformed,
    OtherScheme,
    challenge,
    read_credential,
)


def _read(*values: bytes, query: bytes = b"") -> object:
    return read_credential([(b"authorization", v) for v in values], query)


def test_no_header_is_absent_and_other_headers_do_not_count() -> None:
    assert read_credential([(b"accept", b"*/*")], b"") == Absent()


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER", b"bEaReR"])
def test_the_scheme_is_case_insensitive(scheme: bytes) -> None:
    assert _read(scheme + b" abc") == Bearer("abc")


@pytest.mark.parametrize("value", [b"Basic dXNlcjpwYXNz", b"Digest x=1", b"Token abc"])
def test_other_schemes_are_presented_credentials_not_anonymous(value: bytes) -> None:
    assert _read(value) == OtherScheme()


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer",
        b"Bearer ",
        b"Bearer    ",
        b"Bearer a\tb",
        b"Bearer\tabc",
        b"Bearer a\x00b",
        b"Bearer a\x7fb",
        b"Bearer a b",
        b"Bearer ab\xc3\xa9",
        b"Bearer " + b"a" * 600,
        b"",
        b"(bad) abc",
    ],
)
def test_malformed_headers_are_invalid_requests(value: bytes) -> None:
    assert isinstance(_read(value), Malformed)


def test_two_authorization_headers_are_an_invalid_request() -> None:
    assert isinstance(_read(b"Bearer a", b"Bearer a"), Malformed)


@pytest.mark.parametrize(
    "query", [b"access_token=x", b"a=1&access_token=x", b"access%5Ftoken=x", b"access_token"]
)
def test_a_token_in_the_query_string_is_an_invalid_request(query: bytes) -> None:
    assert isinstance(_read(query=query), Malformed)
    assert isinstance(_read(b"Bearer abc", query=query), Malformed)


def test_similar_query_parameters_are_fine() -> None:
    assert _read(query=b"my_access_token_note=1") == Absent()


def test_malformed_reasons_never_echo_the_presented_bytes() -> None:
    result = _read(b"Bearer sekrit\x00value")
    assert isinstance(result, Malformed)
    assert "sekrit" not in result.reason


def test_challenges_follow_rfc_6750_section_3() -> None:
    assert challenge("tokenward") == 'Bearer realm="tokenward"'
    assert challenge("r", "insufficient_scope", "needs x", "x") == (
        'Bearer realm="r", error="insufficient_scope", error_description="needs x", scope="x"'
    )
    assert "\\" not in challenge("r", "e", 'quote " and \\ back')
