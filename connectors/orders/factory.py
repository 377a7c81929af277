"""Build the order source an `ORDER_SOURCE` value names (ARCHITECTURE §3)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from connectors.orders.fixtures import FixtureOrderSource
from connectors.orders.http import HttpOrderSource
from connectors.orders.protocol import OrderSource

ACCEPTED_FORMS = "fixtures:<file-or-folder> or http:<base-url>"


def default_fixtures_path() -> Path:
    """The demo orders shipped inside the package (not looked up from the current folder)."""
    return Path(__file__).resolve().parents[2] / "sandbox" / "world" / "fixtures" / "orders"


def order_source_from_spec(spec: str) -> OrderSource:
    """`fixtures:<file-or-folder>` or `http:<base-url>`; anything else is a `ValueError`."""
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    rest = rest.strip()
    if sep and kind == "fixtures":
        return _fixtures(rest)
    if sep and kind == "http":
        return HttpOrderSource(_base_url(rest))
    if sep and kind == "shopify":
        raise ValueError(
            f"ORDER_SOURCE shopify:<shop> is not supported in this version; use {ACCEPTED_FORMS}"
        )
    raise ValueError(f"ORDER_SOURCE must be {ACCEPTED_FORMS}, got {spec!r}")


def _fixtures(raw_path: str) -> FixtureOrderSource:
    if not raw_path:
        raise ValueError("ORDER_SOURCE fixtures: needs a file or folder, e.g. fixtures:./orders")
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.exists():
        raise ValueError(f"ORDER_SOURCE fixtures path does not exist: {path}")
    return FixtureOrderSource(path)


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            "ORDER_SOURCE http: needs an http(s) base URL with a host after the prefix, "
            f"e.g. http:https://orders.example.com/api (got {url!r})"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"ORDER_SOURCE http: base URL must not have a query or fragment: {url!r}")
    return url.rstrip("/")
