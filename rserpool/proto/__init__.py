"""Sans-IO protocol cores: the registrar (ENRP server), the pool element and the pool user.

A core is a plain object: the driver feeds it bytes, association ids and the current time in
integer milliseconds, and drains the actions it wants performed (:mod:`rserpool.proto.common`),
the events it observed, and its next deadline. No sockets, no clock, no Trio, no global random.

* :mod:`rserpool.proto.registrar`: ``RegistrarCore`` (ASAP server side, ENRP, takeover).
* :mod:`rserpool.proto.client`: the ASAP client side: the registrar hunt shared by PE and PU,
  ``PoolElementCore``, ``PoolUserCore`` and the session layer with cookie failover.
* :mod:`rserpool.proto.hsdump`: the ENRP conversation of ``rserpool hsdump``.
"""

from __future__ import annotations
