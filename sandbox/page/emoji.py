"""Slack emoji as small SVG images the page ships, so `:warning:` shows as a picture on a machine
without an emoji font and without a network. Names missing here stay as their `:name:` text."""

from __future__ import annotations

import re

from markupsafe import Markup

SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
URL_PREFIX = "/_sandbox/emoji/"

_CHECK = '<path d="M16 33l10 10 22-24" fill="none" stroke="#fff" stroke-width="7"/>'
_HOURGLASS = (
    '<path d="M18 8h28M18 56h28" stroke="#8a5a2b" stroke-width="5"/>'
    '<path d="M21 10h22c0 14-9 16-9 22s9 8 9 22H21c0-14 9-16 9-22s-9-8-9-22z" fill="#e8f4fb"'
    ' stroke="#5b8fb0" stroke-width="2"/><path d="M25 20h14l-7 9zM32 40l9 12H23z" fill="#f2b233"/>'
)

# 64x64 drawings, one per emoji name the app's messages use (and a few close relatives).
_BODIES: dict[str, str] = {
    "white_check_mark": f'<rect x="4" y="4" width="56" height="56" rx="10" fill="#3aa757"/>'
    f"{_CHECK}",
    "heavy_check_mark": (
        '<path d="M12 34l13 13 27-30" fill="none" stroke="#444" stroke-width="9"/>'
    ),
    "x": '<path d="M14 14l36 36M50 14L14 50" stroke="#e0334a" stroke-width="10"/>',
    "lock": (
        '<path d="M20 30v-8a12 12 0 0 1 24 0v8" fill="none" stroke="#8a8f98" stroke-width="6"/>'
        '<rect x="12" y="28" width="40" height="30" rx="5" fill="#f2b233"/>'
        '<circle cx="32" cy="42" r="4" fill="#7a5a12"/>'
    ),
    "warning": (
        '<path d="M32 5L61 57H3z" fill="#f5c518" stroke="#d9a300" stroke-width="3"/>'
        '<path d="M32 22v18" stroke="#222" stroke-width="6"/><circle cx="32" cy="48" r="3.5"/>'
    ),
    "rotating_light": (
        '<rect x="10" y="50" width="44" height="9" rx="2" fill="#666"/>'
        '<path d="M16 50V32a16 16 0 0 1 32 0v18z" fill="#e0334a"/>'
        '<path d="M26 30a6 6 0 0 1 6-6" stroke="#fff" stroke-width="4" fill="none"/>'
        '<path d="M6 14l7 6M58 14l-7 6M32 3v8" stroke="#f5a300" stroke-width="4"/>'
    ),
    "memo": (
        '<rect x="12" y="6" width="40" height="52" rx="3" fill="#fff" stroke="#999"'
        ' stroke-width="3"/>'
        '<path d="M19 20h26M19 30h26M19 40h18" stroke="#5b8fb0" stroke-width="3"/>'
        '<path d="M44 52l12-30 5 2-12 30-6 3z" fill="#f2b233" stroke="#8a5a2b" stroke-width="2"/>'
    ),
    "leftwards_arrow_with_hook": (
        '<rect x="4" y="4" width="56" height="56" rx="10" fill="#4a90d9"/>'
        '<path d="M24 42h14a10 10 0 0 0 0-20H18" fill="none" stroke="#fff" stroke-width="6"/>'
        '<path d="M26 12L14 22l12 10z" fill="#fff"/>'
    ),
    "hourglass_flowing_sand": _HOURGLASS,
    "hourglass": _HOURGLASS,
    "white_circle": '<circle cx="32" cy="32" r="24" fill="#fff" stroke="#999" stroke-width="4"/>',
    "new": (
        '<rect x="2" y="12" width="60" height="40" rx="8" fill="#4a90d9"/>'
        '<text x="32" y="39" font-family="sans-serif" font-size="19" font-weight="700"'
        ' text-anchor="middle" fill="#fff">NEW</text>'
    ),
    "mag": (
        '<circle cx="26" cy="26" r="16" fill="#e8f4fb" stroke="#555" stroke-width="6"/>'
        '<path d="M38 38l18 18" stroke="#8a5a2b" stroke-width="9" stroke-linecap="round"/>'
    ),
    "link": (
        '<g fill="none" stroke="#777" stroke-width="7">'
        '<rect x="6" y="24" width="30" height="16" rx="8" transform="rotate(-45 21 32)"/>'
        '<rect x="28" y="24" width="30" height="16" rx="8" transform="rotate(-45 43 32)"/></g>'
    ),
    "information_source": (
        '<rect x="4" y="4" width="56" height="56" rx="10" fill="#4a90d9"/>'
        '<circle cx="32" cy="17" r="5" fill="#fff"/><path d="M32 27v24" stroke="#fff"'
        ' stroke-width="8"/>'
    ),
    "incoming_envelope": (
        '<rect x="6" y="16" width="52" height="36" rx="3" fill="#fff" stroke="#777"'
        ' stroke-width="3"/><path d="M7 18l25 20 25-20" fill="none" stroke="#777"'
        ' stroke-width="3"/>'
        '<path d="M2 8l14 8" stroke="#e0334a" stroke-width="4"/>'
    ),
    "envelope": (
        '<rect x="4" y="14" width="56" height="38" rx="4" fill="#fff" stroke="#777"'
        ' stroke-width="3"/><path d="M6 17l26 20 26-20" fill="none" stroke="#777"'
        ' stroke-width="3"/>'
    ),
    "alarm_clock": (
        '<path d="M8 16l10-9M56 16l-10-9" stroke="#c0392b" stroke-width="6"'
        ' stroke-linecap="round"/><path d="M16 58l6-8M48 58l-6-8" stroke="#555"'
        ' stroke-width="4"/><circle cx="32" cy="34" r="21" fill="#fff" stroke="#e0334a"'
        ' stroke-width="5"/><path d="M32 21v14l9 6" fill="none" stroke="#222"'
        ' stroke-width="4" stroke-linecap="round"/>'
    ),
    "star": (
        '<path d="M32 4l8.6 18.6 20.4 2.4-15 14 4 20.2L32 49.2 14 59.2l4-20.2-15-14'
        ' 20.4-2.4z" fill="#f5c518" stroke="#d9a300" stroke-width="2"/>'
    ),
    "heavy_minus_sign": '<path d="M12 32h40" stroke="#444" stroke-width="9"/>',
    "checkered_flag": (
        '<path d="M12 6v54" stroke="#555" stroke-width="4"/>'
        '<rect x="14" y="8" width="40" height="28" fill="#fff" stroke="#222" stroke-width="2"/>'
        '<path d="M14 8h10v7H14zM34 8h10v7H34zM24 15h10v7H24zM44 15h10v7H44zM14 22h10v7H14z'
        'M34 22h10v7H34zM24 29h10v7H24zM44 29h10v7H44z" fill="#222"/>'
    ),
    "card_index_dividers": (
        '<rect x="8" y="22" width="48" height="34" rx="3" fill="#c98a4b"/>'
        '<path d="M14 14h12v10H14zM30 10h12v14H30z" fill="#f2b233"/>'
        '<rect x="12" y="20" width="40" height="30" fill="#fff" stroke="#999" stroke-width="2"/>'
    ),
    "red_circle": '<circle cx="32" cy="32" r="26" fill="#dd2e44"/>',
    "large_yellow_circle": '<circle cx="32" cy="32" r="26" fill="#fdcb58"/>',
    "large_green_circle": '<circle cx="32" cy="32" r="26" fill="#78b159"/>',
    "bar_chart": (
        '<rect x="6" y="6" width="52" height="52" rx="6" fill="#fff" stroke="#bbb"'
        ' stroke-width="2"/>'
        '<path d="M16 48V30h8v18zM28 48V18h8v30zM40 48V36h8v12z" fill="#dd2e44"/>'
    ),
    "bust_in_silhouette": (
        '<circle cx="32" cy="22" r="12" fill="#55606e"/>'
        '<path d="M10 58c0-14 10-22 22-22s22 8 22 22z" fill="#55606e"/>'
    ),
    "scales": (
        '<path d="M32 8v46M14 16h36M20 56h24" stroke="#8a8f98" stroke-width="4"/>'
        '<path d="M6 36l8-18 8 18zM42 36l8-18 8 18z" fill="#f2b233" stroke="#c98a4b"'
        ' stroke-width="2"/>'
    ),
    "zzz": (
        '<path d="M10 14h16L10 32h16M32 24h12L32 38h12M46 36h10L46 48h10" fill="none"'
        ' stroke="#5b8fb0" stroke-width="4"/>'
    ),
}


def emoji_svg(name: str) -> str | None:
    """The SVG document for an emoji name, or None for a name the page has no picture for."""
    body = _BODIES.get(name)
    if body is None:
        return None
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{body}</svg>'


def known_emoji() -> list[str]:
    """The names the page can show as pictures."""
    return sorted(_BODIES)


def emoji_img(name: str) -> str:
    """An <img> for a known emoji name (the name is one of ours, so it needs no escaping)."""
    return (
        f'<img class="emoji" src="{URL_PREFIX}{name}.svg" alt=":{name}:" title=":{name}:"'
        ' width="18" height="18">'
    )


def emoji_html(html: str) -> Markup:
    """`:name:` in already-escaped HTML replaced by pictures; unknown names are left as text."""
    return Markup(SHORTCODE.sub(lambda m: emoji_img(m[1]) if m[1] in _BODIES else m[0], html))
