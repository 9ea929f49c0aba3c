"""One error type for everything a user can get wrong in a file or an argument."""
from __future__ import annotations


class SpecError(ValueError):
    """A bad architecture, scene or argument.

    The message always names where (file), what (field path), the bad value and what
    is allowed, so the UI and the CLI can show it as one line without a traceback.
    """

    def __init__(self, source: str, field: str, value: object, allowed: str):
        self.source = _printable(str(source))
        self.field = _printable(str(field))
        self.value = value
        self.allowed = _printable(str(allowed))
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{self.source}: field '{self.field}': value {shown}: {self.allowed}")


def _printable(text: str) -> str:
    """Control characters escaped (a key may hold a newline): the message stays one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
