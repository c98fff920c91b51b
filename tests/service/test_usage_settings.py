"""The settings of leak reports and last-use batches: defaults, overrides, clear errors."""

from datetime import timedelta

import pytest

from tokenward.settings import Settings, SettingsError


def test_defaults_are_ten_reports_a_minute_and_one_last_use_write_a_minute() -> None:
    settings = Settings.from_env({})
    assert settings.leak_reports_per_minute == 10
    assert settings.last_used_flush == timedelta(minutes=1)


def test_the_variables_override_the_defaults() -> None:
    settings = Settings.from_env(
        {"TOKENWARD_LEAK_REPORTS_PER_MINUTE": "0", "TOKENWARD_LAST_USED_FLUSH_SECONDS": "5"}
    )
    assert (settings.leak_reports_per_minute, settings.last_used_flush) == (0, timedelta(seconds=5))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKENWARD_LEAK_REPORTS_PER_MINUTE", "-1"),
        ("TOKENWARD_LEAK_REPORTS_PER_MINUTE", "many"),
        ("TOKENWARD_LAST_USED_FLUSH_SECONDS", "0"),
        ("TOKENWARD_LAST_USED_FLUSH_SECONDS", "3601"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
