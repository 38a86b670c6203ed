#!/bin/sh
# Installs the Debian packages gazeloc needs, and only those missing: idempotent, quick when all are there.
# Runs as root (CI, containers) or through sudo.
set -eu
PKGS="gcc make pkg-config check libsubunit-dev libhwloc-dev libstb-dev libcjson-dev libxxhash-dev
      python3 python3-torch python3-torchvision python3-numpy python3-sklearn python3-scipy python3-xxhash
      libopenblas0-pthread libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "make deps: installing$missing"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "make deps: error: need root (or sudo) to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing
