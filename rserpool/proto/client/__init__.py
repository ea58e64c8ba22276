"""The client side of ASAP (RFC 5352), sans-IO: what a pool element and a pool user run.

* :mod:`~rserpool.proto.client.server_hunt`: the registrar table and the server hunt;
  :mod:`~rserpool.proto.client.hunt`: the registrar client both share (home registrar,
  request matching); their vocabulary in :mod:`~rserpool.proto.client.hunt_types`.
* :mod:`~rserpool.proto.client.pool_element`: ``PoolElementCore`` (registration, sessions);
  its configuration and events in :mod:`~rserpool.proto.client.pool_element_types`.
* :mod:`~rserpool.proto.client.resolution`: handle resolution and Endpoint Unreachable, with
  the cache of resolved PEs in :mod:`~rserpool.proto.client.cache`.
* :mod:`~rserpool.proto.client.pool_user`: ``PoolUserCore`` (sessions that fail over); the
  table of its session states in :mod:`~rserpool.proto.client.session_states`.
* :mod:`~rserpool.proto.client.session`: the session layer shared by both ends (cookies,
  Cookie Echo, Business Cards) and its events.
"""
