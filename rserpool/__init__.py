"""rserpool: Reliable Server Pooling (RSerPool, RFC 5351-5356) on Trio.

The package is split like the protocol:

* ``rserpool.wire``: the ASAP/ENRP codec (RFC 5352-5354), sans-IO.
* ``rserpool.cli``: the ``rserpool`` command.
"""

__version__ = "0.1.0"
