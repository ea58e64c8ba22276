"""Sans-IO protocol cores: the registrar (ENRP server), the pool element and the pool user.

A core is a plain object: the driver feeds it bytes, association ids and the current time in
integer milliseconds, and drains the actions it wants performed (:mod:`rserpool.proto.common`),
the events it observed, and its next deadline. No sockets, no clock, no Trio, no global random.

* :mod:`rserpool.proto.registrar`: ``RegistrarCore`` (ASAP server side, ENRP, takeover).
* :mod:`rserpool.proto.registrar_hunt`: the registrar client shared by PE and PU (server hunt,
  home registrar, FIFO request matching); its vocabulary is in :mod:`rserpool.proto.hunt_types`.
* :mod:`rserpool.proto.pool_element` / :mod:`rserpool.proto.pool_user`: ``PoolElementCore``,
  ``PoolUserCore`` (sessions with cookie failover, :mod:`rserpool.proto.session`).
* :mod:`rserpool.proto.services`: Echo, Discard, Daytime, CharGen and PingPong, as RSPLIB's.
"""

from __future__ import annotations
