"""The rserpool test harness: kernel SCTP, network namespaces, RSPLIB and tshark.

Everything that needs a real kernel runs either natively (where the kernel has SCTP and we are
root) or inside one QEMU guest booted with virtme-ng (:mod:`interop.guest`). The pieces:

* :mod:`interop.capabilities`: what this machine can do (kernel SCTP, root, RSPLIB, tshark).
* :mod:`interop.guest`: boot the guest and run a command in it, results via ``--rwdir``.
* :mod:`interop.runtests`: ``make test`` itself: host tests, then guest (or native) tests.
* :mod:`interop.topology`: hosts as network namespaces, veth links, dummy interfaces.
* :mod:`interop.processes`: programs started in a host, with their logs kept.
* :mod:`interop.rsplib`: RSPLIB 3.4.4's rspregistrar, rspserver, rspterminal, hsdump.
* :mod:`interop.capture`: tshark capture and decoding into ASAP/ENRP messages.
"""
