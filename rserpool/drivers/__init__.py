"""Trio drivers: the sans-IO cores of :mod:`rserpool.proto` wired to a transport ``Host``.

* :mod:`rserpool.drivers.registrar`: ``serve_registrar`` (ENRP server / registrar).
* :mod:`rserpool.drivers.pool_element`: ``open_pool_element`` (a PE and its sessions).
* :mod:`rserpool.drivers.pool_user`: ``open_pool_user`` (a PU; sessions that fail over).
* :mod:`rserpool.drivers.hsdump`: ``dump_handlespace`` (ask a registrar for its handlespace).
* :mod:`rserpool.drivers.associations`: which association of an endpoint leads where.

The PE and PU share :mod:`rserpool.drivers._asap_client` (the ASAP side and the sessions).
The names most programs need are re-exported by :mod:`rserpool` (docs/api.md).
"""

from __future__ import annotations
