"""Events told to people: one line per event, in RFC terms.

* :mod:`~rserpool.presentation.explain`: pool element and pool user events as teaching lines
  (``rserpool server|terminal|pingpong``).
* :mod:`~rserpool.presentation.eventlog`: the registrar's events as log records, each at its
  level (``rserpool registrar``).

Messages on the wire are explained by :mod:`rserpool.wire.explain`.
"""
