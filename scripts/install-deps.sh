#!/usr/bin/env bash
# Installs what g2kit needs from Debian's packages, only what is missing (idempotent).
# CUDA/cuBLAS/NCCL are optional: detected at configure time, never installed here.
set -euo pipefail
# libsentencepiece-dev: Grok-1's tokenizer.model; libpcre2-dev: the split regex of Grok-2's
# tokenizer.tok.json; dpkg-dev and file: `make package` (CPack's dpkg-shlibdeps writes the .deb's
# Depends, and finds the ELF files with file(1)).
PKGS=(cmake make g++ pkg-config nlohmann-json3-dev libcli11-dev libzstd-dev libgtest-dev
      libopenblas-dev libxxhash-dev libsentencepiece-dev libpcre2-dev dpkg-dev file python3 python3-venv)
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
