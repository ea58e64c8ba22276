#!/usr/bin/env bash
# What `make test` needs on a Debian machine, installed when missing (idempotent, quick when
# nothing is missing): the test guest (QEMU, a Debian kernel), RSPLIB 3.4.4, tshark, SCTP
# tools and usrsctp's example programs (the userland SCTP stack the host tests interoperate
# with) as Debian packages, then the virtual environment (.venv) with rserpool, its dev
# dependencies and virtme-ng.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PACKAGES="qemu-system-x86 linux-image-amd64 busybox-static file rsplib-registrar rsplib-tools rsplib-services
          tshark lksctp-tools libsctp-dev iproute2 procps coreutils libusrsctp2 libusrsctp-examples
          valgrind chromium chromium-driver"

missing=()
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "setup: please install the equivalents of: ${missing[*]}" >&2
        exit 1
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "setup: root is needed to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    # tshark asks whether non-root users may capture; answer before it asks.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stamp="$VENV/.rserpool-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: virtual environment $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]' virtme-ng
    touch "$stamp"
fi
