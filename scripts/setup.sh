#!/bin/sh
# One shared set-up step for `make run` and `make test` on a fresh Debian 12 machine (as root):
# Debian packages, then a venv that also sees Debian's Mininet module, then pip installs.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DEBS="mininet iputils-ping iperf3 curl netcat-openbsd iproute2 ethtool tcpdump python3-venv python3-pip"
# The lab's real servers and load tools (topo/nginx.py, topo/loadgen.py): nginx is started
# per real-server host with its own config by the lab, never as the system service.
DEBS="$DEBS nginx wrk nghttp2-client"

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
    # No daemon starts during the install (nginx's package would start the system nginx):
    # a policy-rc.d that refuses every start (Debian's invoke-rc.d convention), only if none
    # is there, removed again afterwards.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || {
        [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV (with system site-packages, for Mininet)"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
echo "setup: pip install -e .[test,lint]"
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test,lint]'
touch "$VENV/.setup-done"
