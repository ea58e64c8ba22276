"""Watching a running RSerPool system: the Component Status Protocol's monitor side.

* :mod:`rserpool.monitor.model`: the sans-IO table of components built from CSP reports
  (:mod:`rserpool.wire.csp`), purged when they fall silent, as RSPLIB's ``cspmonitor`` keeps it;
* :mod:`rserpool.monitor.receiver`: the Trio driver, a UDP socket feeding that table;
* :mod:`rserpool.monitor.terminal`: the table drawn on a terminal (or as plain text) with rich.

``rserpool monitor`` (:mod:`rserpool.cli.monitor`) puts them together; docs/monitor.md teaches.
"""
