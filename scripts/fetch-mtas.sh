#!/bin/sh
# Exim and Sendmail for the mail-log tests. Debian lets only one mail server be installed, and
# the tests also need Postfix, so these two are unpacked (not installed) from their Debian
# packages into FWF_MTA_ROOT (default /opt/fwforensics-mta). The tests run the binaries from
# there with private configurations; nothing is registered with dpkg or started at boot.
# Needs apt-get and dpkg-deb; m4 (for building sendmail.cf) comes from apt-test-packages.txt.
set -eu
ROOT="${FWF_MTA_ROOT:-/opt/fwforensics-mta}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
cd "$TMP"
apt-get download -qq exim4-daemon-light exim4-base sendmail-bin sendmail-cf
# their shared libraries are installed for real (harmless: libraries only, no mail server)
LIBS="$(apt-cache depends exim4-daemon-light sendmail-bin | awk '$1 == "Depends:" && $2 ~ /^lib/ {print $2}' | sort -u)"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $LIBS >/dev/null
mkdir -p "$ROOT"
for deb in ./*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
# Debian's Exim is built to refuse to start without its own system user (its postinst makes it)
getent passwd Debian-exim >/dev/null || useradd --system --user-group --no-create-home \
    --home-dir /var/spool/exim4 --shell /usr/sbin/nologin Debian-exim
echo "unpacked into $ROOT: $(ls "$ROOT/usr/sbin/exim4" "$ROOT/usr/libexec/sendmail/sendmail")"
