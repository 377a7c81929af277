"""Build the refund gateway a `REFUND_GATEWAY` value names (ARCHITECTURE §3)."""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors.refunds.http import HttpRefundGateway
from connectors.refunds.protocol import RefundGateway
from connectors.refunds.stripe import StripeGateway

ACCEPTED_FORMS = "stripe (with STRIPE_API_KEY) or http:<base-url>, or unset for none"
DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"


def refund_gateway_from_settings(
    spec: str | None, *, stripe_api_key: str | None, stripe_api_base: str | None
) -> RefundGateway | None:
    """The gateway `spec` names; None when it is unset; a `ValueError` naming the variable."""
    if spec is None or not spec.strip():
        return None
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "stripe" and not rest.strip():
        if not stripe_api_key or not stripe_api_key.strip():
            raise ValueError(
                "REFUND_GATEWAY stripe needs STRIPE_API_KEY (sk_live_... or sk_test_...)"
            )
        return StripeGateway(stripe_api_key.strip(), api_base=_stripe_api_base(stripe_api_base))
    if kind == "http" and sep:
        return HttpRefundGateway(_http_url(rest.strip()))
    if kind == "shopify":
        raise ValueError(
            f"REFUND_GATEWAY shopify is not supported in this version; use {ACCEPTED_FORMS}"
        )
    raise ValueError(f"REFUND_GATEWAY must be {ACCEPTED_FORMS}, got {spec!r}")


def _stripe_api_base(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return DEFAULT_STRIPE_API_BASE
    base = raw.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"STRIPE_API_BASE must be an http(s) URL with a host, got {raw!r}")
    if parts.path or parts.query or parts.fragment:
        raise ValueError(
            f"STRIPE_API_BASE is scheme, host and port only (no /v1 or other path), got {raw!r}"
        )
    return base


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            "REFUND_GATEWAY http: needs an http(s) base URL with a host after the prefix, "
            f"e.g. http:https://payments.example.com/api (got {url!r})"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"REFUND_GATEWAY http: base URL must not have a query or fragment: {url!r}"
        )
    return url.rstrip("/")
