#!/usr/bin/env bash
# Installs Debian's chromium + chromium-driver when missing and we are root; otherwise says how.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "headless Chromium is missing; run: sudo apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
