"""How moderators see what users wrote: control characters shown as visible symbols."""
from types import MappingProxyType

from django import template

register = template.Library()

# C0 controls (except tab and newline) and DEL as the Unicode "control pictures" (U+2400..),
# so that a NUL a harasser sent is visible in the evidence instead of vanishing.
_PICTURES = MappingProxyType({
    **{code: 0x2400 + code for code in range(0x20) if code not in (0x09, 0x0A)}, 0x7F: 0x2421})


@register.filter
def visible_controls(text: object) -> str:
    return str(text).translate(_PICTURES)
