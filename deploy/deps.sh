#!/usr/bin/env bash
# Installs the Debian 12 packages stemdyn needs to build, test and demo; fast when all are present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libzmq3-dev libczmq-dev libmsgpack-dev libfftw3-dev liburing-dev libtiff-dev
      liblapacke-dev libsleef-dev libconfig-dev libmicrohttpd-dev
      lammps python3-ase python3-numpy python3-zmq python3-msgpack python3-matplotlib python3-pil iproute2
      chromium chromium-driver)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
