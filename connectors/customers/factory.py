"""Build the customer channel a `CUSTOMER_CHANNEL` value names."""

from __future__ import annotations

from connectors.customers.log_channel import LogChannel
from connectors.customers.outbound import CustomerChannel
from connectors.customers.smtp import SMTP_FORM, SmtpChannel, parse_smtp_url
from connectors.customers.webhook import WEBHOOK_FORM, WebhookChannel, parse_webhook_url

ACCEPTED_FORMS = f"{SMTP_FORM}, {WEBHOOK_FORM} or log"


def check_channel_setting(value: str) -> str:
    """`value` tidied (`log`, a `smtp://` URL or `webhook:<url>`); a one-line `ValueError`
    naming the expected forms otherwise, which never shows a password."""
    spec = value.strip()
    kind = spec.partition(":")[0].strip().lower()
    if spec.lower() == "log":
        return "log"
    if kind == "smtp" and spec.lower().startswith("smtp://"):
        parse_smtp_url(spec)
        return spec
    if kind == "webhook":
        return "webhook:" + parse_webhook_url(spec.partition(":")[2])
    raise ValueError(f"expected {ACCEPTED_FORMS}")


def channel_from_setting(
    value: str, *, sender: str, secret: str | None, timeout: float = 10.0
) -> CustomerChannel:
    """The channel `value` names: mail from `sender`, webhook requests signed with `secret`."""
    spec = check_channel_setting(value)
    if spec == "log":
        return LogChannel()
    if spec.startswith("webhook:"):
        if not secret:
            raise ValueError(
                "OUTBOUND_SECRET is not set: CUSTOMER_CHANNEL webhook: signs every request with it"
            )
        return WebhookChannel(spec.removeprefix("webhook:"), secret=secret, timeout=timeout)
    return SmtpChannel(parse_smtp_url(spec), sender=sender, timeout=timeout)
