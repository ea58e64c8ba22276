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
from rserpool.handlespace.store import (
    MAX_BAD_PE_REPORTS,
    MAX_OPAQUE_TRANSPORT_SIZE,
    MAX_STORED_PE_SIZE,
    PoolHandlespace,
    storable,
)

__all__ = [
    "MAX_BAD_PE_REPORTS",
    "MAX_OPAQUE_TRANSPORT_SIZE",
    "MAX_STORED_PE_SIZE",
    "Key",
    "Pool",
    "PoolElement",
    "PoolHandlespace",
    "RegistrationRejected",
    "RegistrationResult",
    "compute_checksum",
    "storable",
]
