#!/usr/bin/env bash
# Make sure a headless-capable Chromium is installed (Debian package `chromium`).
# Prints the path of the browser on stdout and exits 0 when one is available.
# When it is missing and we are root with apt-get, installs it (exit 3 when
# that install fails: the tests then fail, they do not skip); without root or
# apt-get, exits 2 with a reason on stderr (tests then skip with that reason).
set -u
find_browser() {
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}
if path=$(find_browser); then echo "$path"; exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is not installed and this user is not root (run: sudo apt-get install -y chromium)" >&2
  exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is not installed and apt-get is not available on this system" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
{
  apt-get install -y --no-install-recommends chromium fonts-dejavu-core ||
    { apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }
} >&2
if path=$(find_browser); then echo "$path"; exit 0; fi
echo "apt-get could not install chromium" >&2
exit 3
