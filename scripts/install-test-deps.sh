#!/bin/sh
# Installs everything the test suite needs on a fresh Debian machine: the tool with its
# test extras, and the real programs the tests drive (tshark for capture decodes, nmap,
# hping3, traceroute, tcpdump and iptables for the traffic lab, Chromium for the HTML report).
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null 2>&1; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO apt-get update -qq
    # shellcheck disable=SC2046
    $SUDO apt-get install -y -qq --no-install-recommends $(grep -hv '^#' scripts/apt-test-packages.txt) >/dev/null
    # Exim and Sendmail conflict with Postfix as packages: unpacked, not installed
    $SUDO sh scripts/fetch-mtas.sh >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
