"""What a selection policy needs to know about one pool element (RSPLIB ``PoolElementNode``).

Any collection of PE entries can be selected from: the registrar's pools (``rserpool.handlespace``
subclasses :class:`PolicyEntry`) and a pool user's cache alike.
"""

from __future__ import annotations

from rserpool.wire.policy import PoolMemberSelectionPolicy


class PolicyEntry:
    """A PE's policy settings plus the runtime state the policies keep for it.

    * ``seq_number``: position in the rotation among equal keys; a selected PE gets the pool's
      next sequence number, which sends it behind its equals (round robin, RFC 5356 §4.1).
    * ``selection_counter``: how often the PE was returned (statistics only).
    * ``degradation``: accumulated load degradation, a fraction of 0xffffffff (RFC 5356 §5.2);
      reset to 0 by every (re-)registration whose settings differ or whose degradation is not 0.
    * ``round_counter`` / ``virtual_counter``: Weighted Round Robin state (RSPLIB).

    ``selection_token`` belongs to the selection storage that holds the entry (a heap record or
    a tree slot); an entry can be in at most one storage at a time.
    """

    __slots__ = (
        "degradation",
        "policy",
        "round_counter",
        "selection_counter",
        "selection_token",
        "seq_number",
        "virtual_counter",
    )

    def __init__(self, policy: PoolMemberSelectionPolicy) -> None:
        self.policy = policy
        self.seq_number = 0
        self.selection_counter = 0
        self.degradation = 0
        self.round_counter = 0
        self.virtual_counter = 0
        self.selection_token: object = None
