"""Template filters for reading contacts: phone numbers formatted for people."""

from functools import lru_cache

from django import template
from django.utils import timezone

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


# Light formatters for the big tables: these run 50 times per column per page, where Django's
# localizing intcomma/floatformat/date filters cost tens of microseconds each.


@register.filter
def count(value) -> str:
    """1234 -> `1,234`."""
    return "" if value is None else f"{value:,}"


@register.filter
def money(value) -> str:
    """Decimal('1234.5') -> `$1,234.50`."""
    return "" if value is None else f"${value:,.2f}"


@register.filter
def day(value) -> str:
    """A datetime as `Nov 3, 2025` in the current time zone; empty for None."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}, {local.year}"


@register.filter
def moment(value) -> str:
    """A datetime as `Nov 3, 2025 14:05` in the current time zone; empty for None."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}, {local.year} {local:%H:%M}"
