"""The exported names are the intended ones, and the package is typed."""

from pathlib import Path

import tokenward
import tokenward.domain.tokens
import tokenward.service
import tokenward.store
import tokenward.testing


def test_top_level_exports() -> None:
    assert sorted(tokenward.__all__) == ["Runtime", "Settings", "create_app"]
    for name in tokenward.__all__:
        assert getattr(tokenward, name) is not None


def test_service_and_store_exports() -> None:
    assert set(tokenward.service.__all__) == {
        "AccountService",
        "CreatedToken",
        "NewToken",
        "Revocation",
        "Rotation",
        "TokenPage",
        "TokenService",
    }
    assert set(tokenward.store.__all__) == {
        "MemoryStore",
        "SqlStore",
        "Store",
        "StoreTransaction",
        "TokenQuery",
    }


def test_testing_exports_the_helpers_for_users_tests() -> None:
    assert set(tokenward.testing.__all__) == {
        "FakeClock",
        "FakeVerifier",
        "make_token",
        "make_user",
        "memory_runtime",
    }
    for name in tokenward.testing.__all__:
        assert getattr(tokenward.testing, name) is not None


def test_package_ships_a_py_typed_marker() -> None:
    assert (Path(tokenward.__file__).parent / "py.typed").exists()


def test_the_sdk_exports_the_client_middleware_and_errors() -> None:
    import tokenward.sdk as sdk

    for name in sdk.__all__:
        assert getattr(sdk, name) is not None
    assert {
        "Client",
        "AsyncClient",
        "RemoteVerifier",
        "TokenwardMiddleware",
        "TokenwardWSGIMiddleware",
        "require_token",
        "optional_token",
        "RotatedToken",
        "Webhook",
        "CreatedWebhook",
        "WebhookDelivery",
    } <= set(sdk.__all__)
