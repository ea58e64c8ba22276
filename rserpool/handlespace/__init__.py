"""The registrar's handlespace (RFC 5353 §2.3, RSPLIB ``poolhandlespacemanagement``), sans-IO.

Time is integer milliseconds, injected as ``now``; randomness is an injected ``random.Random``.
"""

from __future__ import annotations

from rserpool.handlespace.checksum import compute_checksum
from rserpool.handlespace.model import (
    Key,
    Pool,
    PoolElement,
    RegistrationRejected,
    RegistrationResult,
)
from rserpool.handlespace.store import MAX_BAD_PE_REPORTS, PoolHandlespace

__all__ = [
    "MAX_BAD_PE_REPORTS",
    "Key",
    "Pool",
    "PoolElement",
    "PoolHandlespace",
    "RegistrationRejected",
    "RegistrationResult",
    "compute_checksum",
]
