#!/usr/bin/env bash
# The monitor's browser test drives Debian's Chromium. `corridor test` runs this first: as root with
# apt-get (CI, a fresh machine) it installs the package when it is missing; elsewhere it only says so,
# and the browser test skips (it fails under CI=true, where Chromium must be there).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "corridor test: /usr/bin/chromium is missing (apt-get install chromium); the browser test will skip" >&2
  exit 0
fi
echo "corridor test: installing Debian's chromium for the monitor's browser test…" >&2
apt_log="$(mktemp)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$apt_log" 2>&1; then
  tail -n 20 "$apt_log" >&2
  echo "corridor test: 'apt-get install chromium' failed (log above)" >&2
  exit 1
fi
rm -f "$apt_log"
