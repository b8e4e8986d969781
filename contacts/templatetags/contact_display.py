"""Template filters for reading contacts: phone numbers formatted for people."""

from functools import lru_cache

from django import template

from contacts.phones import DEFAULT_REGION, format_phone_for_display

register = template.Library()


@lru_cache(maxsize=8192)
def _formatted(e164: str, region: str) -> str:
    return format_phone_for_display(e164, region)


@register.filter
def phone(e164: str, region: str | None = None) -> str:
    """`+14155550100` -> `(415) 555-0100` in `region` (default US), international elsewhere."""
    if not e164:
        return ""
    return _formatted(str(e164), (region or DEFAULT_REGION).upper())


@register.filter
def percent(fraction) -> str:
    """0.0234 -> `2.34%`; None -> empty."""
    if fraction is None:
        return ""
    return f"{fraction * 100:.2f}%"
