"""The client side of ASAP (RFC 5352), sans-IO: what a pool element and a pool user run.

* :mod:`~rserpool.proto.client.hunt`: the registrar client both share (server hunt, home
  registrar, request matching); its vocabulary in :mod:`~rserpool.proto.client.hunt_types`.
* :mod:`~rserpool.proto.client.pool_element`: ``PoolElementCore`` (registration, sessions).
* :mod:`~rserpool.proto.client.pool_user`: ``PoolUserCore`` (handle resolution, failover),
  with its cache of resolved PEs in :mod:`~rserpool.proto.client.cache`.
* :mod:`~rserpool.proto.client.session`: the session layer shared by both ends (cookies,
  Cookie Echo, Business Cards) and its events.
"""
