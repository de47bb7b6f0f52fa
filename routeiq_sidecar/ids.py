"""Random identifiers (request and decision ids) in ``uuid.uuid4().hex`` form, made cheaply."""

from __future__ import annotations

import os


def new_id() -> str:
    """32 hex digits of a version-4 UUID: ``uuid.uuid4().hex`` without building a UUID object
    (two per decision on the hot path)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()
