"""A customer's address or phone number as logs and notices may show it: enough to tell two
customers apart, never enough to write to them. Never raises, whatever it is given."""

from __future__ import annotations

DOTS = "•••"
_LONGEST_DOMAIN = 253  # the longest DNS name; anything longer is not shown
# Fewer digits than this and the last four would be most of the number.
_FEWEST_PHONE_DIGITS = 7


def mask_email(address: str) -> str:
    """`emma@example.com` -> `e•••@example.com`: the first character of the local part only."""
    if not isinstance(address, str):
        return DOTS
    local, at, domain = address.strip().rpartition("@")
    if not at:
        local, domain = domain, ""
    first = local[:1]
    shown_first = first if first.isprintable() and not first.isspace() else ""
    if not at:
        return shown_first + DOTS
    shown_domain = domain if _plain(domain) and len(domain) <= _LONGEST_DOMAIN else DOTS
    return f"{shown_first}{DOTS}@{shown_domain}"


def mask_phone(number: str) -> str:
    """`+1 415 555 0100` -> `•••• 0100`: the last four digits, when the number is long enough."""
    if not isinstance(number, str):
        return "••••"
    digits = [char for char in number if char.isascii() and char.isdigit()]
    if len(digits) < _FEWEST_PHONE_DIGITS:
        return "••••"
    return "•••• " + "".join(digits[-4:])


def _plain(text: str) -> bool:
    return all(char.isprintable() and not char.isspace() for char in text)
