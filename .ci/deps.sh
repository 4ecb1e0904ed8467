#!/bin/sh
# deps.sh - installs, with apt-get, the Debian packages pcapdex needs to build,
# test and benchmark, when any is missing.  Safe to run again.
set -e
PKGS="gcc make pkg-config libpcap-dev libsqlite3-dev sqlite3 libzstd-dev zstd libuv1-dev
libssl-dev zlib1g-dev tshark tcpdump python3 clang"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
