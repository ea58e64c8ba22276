# rserpool: `make test` sets up and runs every test; `make check` runs ruff and mypy.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test test-host test-kernel check format clean demo

setup:
	@VENV=$(VENV) interop/setup.sh

# A registrar, three echo PEs and a PU; one PE dies; the failover and an explained trace.
# Without kernel SCTP: over our SCTP over UDP on loopback, needing only the virtual environment
# (no root, no guest). ARGS=--kernel: kernel SCTP, natively or in the test guest (make setup).
demo: $(VENV)/bin/rserpool
	$(PY) -m interop.demo $(ARGS)

# The virtual environment alone; make setup also installs the packages the tests need.
$(VENV)/bin/rserpool:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'

# Everything: host tests here, kernel tests natively or in one guest boot (docs/testing.md).
test: setup
	$(PY) -m interop.runtests $(ARGS)

# Only the tests that need no kernel SCTP.
test-host: setup
	$(PY) -m interop.runtests --host-only $(ARGS)

# Only kernel tests, e.g. make test-kernel ARGS="tests/guest/test_smoke_sctp.py -k primary"
test-kernel: setup
	$(PY) -m interop.runtests --kernel-only $(ARGS)

check: setup
	$(VENV)/bin/ruff check rserpool interop tests bench
	$(VENV)/bin/ruff format --check rserpool interop tests bench
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format rserpool interop tests bench
	$(VENV)/bin/ruff check --fix rserpool interop tests bench

clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis
