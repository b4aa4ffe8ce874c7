"""Domain errors the web layer turns into status codes."""

from __future__ import annotations


class ValidationError(ValueError):
    """Input that cannot be accepted; `field` names the part at fault."""

    def __init__(
        self, message: str, field: str | None = None, details: list[dict[str, object]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class NotFound(LookupError):
    """No such object (or not visible to this user)."""


class Forbidden(PermissionError):
    """Visible, but not this user's to change (another rep's prospect)."""


class Conflict(ValueError):
    """The request conflicts with the current state."""
