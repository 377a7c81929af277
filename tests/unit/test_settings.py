"""Settings: defaults, and one clear line naming the variable for bad values."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_name_shipped_files_independent_of_cwd() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./dispute-desk.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    fixtures = Path(settings.order_source.removeprefix("fixtures:"))
    assert fixtures.is_absolute() and fixtures.is_dir()
    assert settings.policy_pack.is_absolute()
    assert settings.base_url == "http://127.0.0.1:3000"


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISPUTES_CHANNEL=#returns\nPORT=8080\n")
    settings = load_settings()
    assert settings.disputes_channel == "#returns"
    assert settings.port == 8080


def test_api_url_gets_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "eighty", "PORT='eighty' is not valid"),
        ("PORT", "70000", "PORT='70000' is not valid"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL='mysql://x' is not valid: expected sqlite"),
        ("ORDER_SOURCE", "ftp:x", "ORDER_SOURCE='ftp:x' is not valid: expected fixtures:"),
        ("SLACK_API_URL", "slack.com", "SLACK_API_URL='slack.com' is not valid: expected an http"),
        ("SLACK_BOT_TOKEN", "xoxp-user", "SLACK_BOT_TOKEN is not valid: expected a bot"),
        ("SLACK_APP_TOKEN", "nope", "SLACK_APP_TOKEN is not valid"),
        ("STRIPE_API_KEY", "pk_live_1", "STRIPE_API_KEY is not valid: expected a secret key"),
        ("PUBLIC_URL", "ftp://x", "PUBLIC_URL='ftp://x' is not valid"),
        ("INTAKE_WORKERS", "0", "INTAKE_WORKERS='0' is not valid"),
        ("CUSTOMER_CHANNEL", "email", "CUSTOMER_CHANNEL is not valid: expected smtp://"),
        (
            "CUSTOMER_CHANNEL",
            "smtp://mail.example.com",
            "CUSTOMER_CHANNEL is not valid: expected smtp://",
        ),
        (
            "CUSTOMER_CHANNEL",
            "webhook:ftp://hooks.example",
            "CUSTOMER_CHANNEL is not valid: expected webhook:",
        ),
        ("CUSTOMER_FROM", "Dispute Desk", "CUSTOMER_FROM='Dispute Desk' is not valid: expected an"),
        ("CUSTOMER_FROM", "a@b@c.example", "CUSTOMER_FROM='a@b@c.example' is not valid"),
        ("CUSTOMER_FROM", "<d@shop.example>", "CUSTOMER_FROM='<d@shop.example>' is not valid"),
        ("OFFER_EXPIRES_DAYS", "0", "OFFER_EXPIRES_DAYS='0' is not valid"),
        ("OFFER_EXPIRES_DAYS", "366", "OFFER_EXPIRES_DAYS='366' is not valid"),
        ("OFFER_EXPIRES_DAYS", "two weeks", "OFFER_EXPIRES_DAYS='two weeks' is not valid"),
        ("OFFER_REMINDER_HOURS", "0", "OFFER_REMINDER_HOURS='0' is not valid"),
        ("OFFER_REMINDER_HOURS", "1441", "OFFER_REMINDER_HOURS='1441' is not valid"),
        ("ALERT_SCAN_EVERY", "0", "ALERT_SCAN_EVERY='0' is not valid"),
        ("ALERT_SNOOZE_MINUTES", "soon", "ALERT_SNOOZE_MINUTES='soon' is not valid"),
        ("ALERT_SUMMARY_AT", "9am", "ALERT_SUMMARY_AT='9am' is not valid: expected a time of day"),
        ("ALERT_SUMMARY_AT", "24:00", "ALERT_SUMMARY_AT='24:00' is not valid: expected a time"),
        ("ALERT_DM_USERS", "U0SUP,@ana", "ALERT_DM_USERS='U0SUP,@ana' is not valid: '@ana' is not"),
        (
            "INSIGHTS_REPORT_AT",
            "monday",
            "INSIGHTS_REPORT_AT='monday' is not valid: expected a weekday and a time like mon",
        ),
        ("INSIGHTS_REPORT_AT", "mon 25:00", "INSIGHTS_REPORT_AT='mon 25:00' is not valid"),
        ("INSIGHTS_REPORT_AT", "09:00 mon", "INSIGHTS_REPORT_AT='09:00 mon' is not valid"),
        ("INSIGHTS_REPORT_AT", "mo 09:00", "INSIGHTS_REPORT_AT='mo 09:00' is not valid"),
        ("INSIGHTS_REPORT_AT", "never", "INSIGHTS_REPORT_AT='never' is not valid"),
    ],
)
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(says)
    assert "\n" not in str(refused.value)


def test_alert_settings_read_as_a_time_and_people(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SUMMARY_AT", "08:30")
    monkeypatch.setenv("ALERT_DM_USERS", " U0SUPER , U0MANAGER1,")
    settings = load_settings()
    assert settings.summary_time == time(8, 30)
    assert settings.dm_users == ["U0SUPER", "U0MANAGER1"]
    monkeypatch.setenv("ALERT_SUMMARY_AT", "")
    assert load_settings().summary_time is None


@pytest.mark.parametrize(
    ("value", "weekday", "at"),
    [
        ("mon 09:00", 0, time(9, 0)),
        ("  FRI   17:30 ", 4, time(17, 30)),
        ("sunday 7:05", 6, time(7, 5)),
        ("Wednesday 00:00", 2, time(0, 0)),
    ],
)
def test_the_weekly_report_reads_as_a_weekday_and_a_time(
    monkeypatch: pytest.MonkeyPatch, value: str, weekday: int, at: time
) -> None:
    monkeypatch.setenv("INSIGHTS_REPORT_AT", value)
    schedule = load_settings().weekly_report_at
    assert schedule is not None
    assert (schedule.weekday, schedule.at) == (weekday, at)


def test_the_weekly_report_is_on_mondays_at_nine_unless_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert str(load_settings().weekly_report_at) == "mon 09:00"
    for off in ("off", "OFF", ""):
        monkeypatch.setenv("INSIGHTS_REPORT_AT", off)
        assert load_settings().weekly_report_at is None


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET is not set: "):
        load_settings().require("slack_signing_secret")


PASSWORD = "MARKER5e0b8c2a"


@pytest.mark.parametrize(
    "value",
    [
        f"smtp://mailer:{PASSWORD}@mail.example.com",
        f"smtp://mailer:{PASSWORD}@mail.example.com:25?starttls=maybe",
        f"smtp://mailer@example.com:{PASSWORD}@mail.example.com:port",
        f"smtps://mailer:{PASSWORD}@mail.example.com:465",
        f"webhook:https://hooks:{PASSWORD}@hooks.example/x#frag",
        f"smtp://mailer:with a space {PASSWORD}@mail.example.com",
    ],
)
def test_a_bad_customer_channel_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CUSTOMER_CHANNEL", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("CUSTOMER_CHANNEL is not valid: expected ")
    assert PASSWORD not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (" LOG ", "log"),
        ("smtp://mailer:pw@mail.example.com:587?starttls=true", None),
        ("webhook: https://hooks.example/desk", "webhook:https://hooks.example/desk"),
    ],
)
def test_customer_channel_forms_are_accepted(
    monkeypatch: pytest.MonkeyPatch, value: str, kept: str | None
) -> None:
    monkeypatch.setenv("CUSTOMER_CHANNEL", value)
    monkeypatch.setenv("OUTBOUND_SECRET", "s3cret-for-hooks")
    assert load_settings().customer_channel == (kept or value)


def test_a_webhook_needs_the_outbound_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_CHANNEL", "webhook:https://hooks.example/desk")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "MARKER-signing-secret-1")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("OUTBOUND_SECRET is not set: ")
    assert "CUSTOMER_CHANNEL" in message
    assert "MARKER" not in message  # the other settings' values are not shown
    assert "\n" not in message
    monkeypatch.setenv("OUTBOUND_SECRET", "  ")
    with pytest.raises(SettingsError, match=r"^OUTBOUND_SECRET is not set: "):
        load_settings()
    monkeypatch.setenv("OUTBOUND_SECRET", "s3cret-for-hooks")
    assert load_settings().outbound_secret == "s3cret-for-hooks"


def test_customer_mail_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.customer_channel == "log"
    assert settings.customer_from is None
    assert settings.customer_sender == "disputes@127.0.0.1"
    assert (settings.offer_expires_days, settings.offer_reminder_hours) == (14, 72)
    monkeypatch.setenv("PUBLIC_URL", "https://Desk.Shop.example:8443/slack/")
    assert load_settings().customer_sender == "disputes@desk.shop.example"
    monkeypatch.setenv("CUSTOMER_FROM", " returns@shop.example ")
    settings = load_settings()
    assert settings.customer_from == settings.customer_sender == "returns@shop.example"
    monkeypatch.setenv("CUSTOMER_FROM", "")
    assert load_settings().customer_sender == "disputes@desk.shop.example"


def test_offer_timing_bounds_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFER_EXPIRES_DAYS", "365")
    monkeypatch.setenv("OFFER_REMINDER_HOURS", "1440")
    settings = load_settings()
    assert (settings.offer_expires_days, settings.offer_reminder_hours) == (365, 1440)
