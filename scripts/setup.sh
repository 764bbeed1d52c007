#!/bin/sh
# One shared set-up step for `make run` and `make test` on a fresh Debian 12 machine (as root):
# Debian packages, then a venv that also sees Debian's Mininet module, then pip installs.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DEBS="mininet iputils-ping iperf3 curl netcat-openbsd iproute2 ethtool tcpdump python3-venv python3-pip"

missing=""
for p in $DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: Debian packages missing:$missing -- run as root (or apt-get install them)" >&2
        exit 1
    fi
    echo "setup: apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV (with system site-packages, for Mininet)"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
echo "setup: pip install -e .[test,lint]"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test,lint]'
touch "$VENV/.setup-done"
