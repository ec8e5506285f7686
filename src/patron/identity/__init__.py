"""Identity resolution: normalize identifiers and unite the records of one person."""

from patron.identity.normalize import EMAIL_PATTERN
from patron.identity.phones import normalize_phone
from patron.identity.resolve import resolve_new_records

__all__ = ["EMAIL_PATTERN", "normalize_phone", "resolve_new_records"]
