"""Trio drivers: the sans-IO cores of :mod:`rserpool.proto` wired to a transport ``Host``.

* :mod:`rserpool.drivers.registrar`: ``serve_registrar`` (ENRP server / registrar).
* :mod:`rserpool.drivers.hsdump`: ``dump_handlespace`` (ask a registrar for its handlespace).
"""

from __future__ import annotations
