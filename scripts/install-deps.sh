#!/usr/bin/env bash
# Installs what g2kit needs from Debian's packages, only what is missing (idempotent).
# CUDA/cuBLAS/NCCL are optional: detected at configure time, never installed here.
set -euo pipefail
PKGS=(cmake make g++ pkg-config nlohmann-json3-dev libcli11-dev libzstd-dev libgtest-dev
      libopenblas-dev libxxhash-dev python3 python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
