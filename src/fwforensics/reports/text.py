"""Making untrusted strings safe to show.

Everything that comes from a log (prefixes, host names, URLs, raw lines) passes
through :func:`clean` before it reaches a terminal: escape sequences and other
control characters are shown as visible ``\\xNN`` text instead of being obeyed.
"""
from __future__ import annotations

import re

# C0 controls except tab, DEL, C1 controls, and the Unicode bidi/format controls that can
# reorder what a terminal shows.
_CTRL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(s: object, limit: int | None = None) -> str:
    """Control characters -> visible escapes; optionally cut to ``limit`` characters."""
    if s is None:
        return ""
    text = str(s)
    text = _CTRL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100 else "\\u%04x" % ord(m.group()),
                     text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text
