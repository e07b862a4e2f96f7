"""The domain's errors: services raise them, pages turn them into responses (404, 403, 409, 422)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(DomainError):
    """The thing does not exist, or not for this person (so ids cannot be probed)."""


class NotAllowed(DomainError):
    """The person may not do this in their role."""


class Locked(DomainError):
    """The thing cannot be changed in its current state (a submitted submission, a draft that a
    Lotse cannot grade)."""


class Invalid(DomainError):
    """Input that does not fit: ``errors`` maps field names to German messages."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)
