"""Applications on pool element and pool user sessions: RSPLIB's standard services.

* :mod:`~rserpool.apps.services`: Echo, Discard, Daytime, CharGen and PingPong as sans-IO
  per-session state (bytes in, replies and cookies out), byte-compatible with RSPLIB's.
* :mod:`~rserpool.apps.service_handlers`: those services as PE session handlers on Trio.
* :mod:`~rserpool.apps.pingpong`: the sequence-checked PingPong client (``rserpool pingpong``).
"""
