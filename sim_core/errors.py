"""One error type for everything a user can get wrong in a file or an argument."""
from __future__ import annotations


class SpecError(ValueError):
    """A bad architecture, scene or argument.

    The message always names where (file), what (field path), the bad value and what
    is allowed, so the UI and the CLI can show it as one line without a traceback.
    """

    def __init__(self, source: str, field: str, value: object, allowed: str):
        self.source = str(source)
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{self.source}: field '{field}': value {shown}: {allowed}")
