"""SLACK_POST_RATE and SLACK_MAX_WAIT: off and a minute by default, one clear line when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from bot.slack_wiring import slack_client


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_no_budget_and_a_minute_of_waiting_by_default() -> None:
    settings = load_settings()
    assert settings.slack_post_rate is None and settings.slack_max_wait == 60.0
    client = slack_client(load_settings(slack_bot_token="xoxb-1"))
    assert client.gate.post_rate is None and client.gate.max_wait == 60.0


@pytest.mark.parametrize(("value", "rate"), [("0.5", 0.5), (" 3 ", 3.0), ("", None), ("100", 100)])
def test_a_budget_is_messages_per_second(
    monkeypatch: pytest.MonkeyPatch, value: str, rate: float | None
) -> None:
    monkeypatch.setenv("SLACK_POST_RATE", value)
    assert load_settings().slack_post_rate == rate


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SLACK_POST_RATE", "fast", "SLACK_POST_RATE='fast' is not valid: expected messages"),
        ("SLACK_POST_RATE", "0", "SLACK_POST_RATE='0' is not valid: expected messages per second"),
        ("SLACK_POST_RATE", "-1", "SLACK_POST_RATE='-1' is not valid"),
        ("SLACK_POST_RATE", "nan", "SLACK_POST_RATE='nan' is not valid"),
        ("SLACK_POST_RATE", "1000", "SLACK_POST_RATE='1000' is not valid: expected messages"),
        ("SLACK_MAX_WAIT", "0", "SLACK_MAX_WAIT='0' is not valid"),
        ("SLACK_MAX_WAIT", "a minute", "SLACK_MAX_WAIT='a minute' is not valid"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert str(exc.value).startswith(says) and "\n" not in str(exc.value)


def test_the_client_takes_the_budget_and_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_POST_RATE", "0.3")
    monkeypatch.setenv("SLACK_MAX_WAIT", "20")
    client = slack_client(load_settings(slack_bot_token="xoxb-1"))
    assert client.gate.post_rate == 0.3 and client.gate.max_wait == 20.0
