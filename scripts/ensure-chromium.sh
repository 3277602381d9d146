#!/usr/bin/env bash
# Makes Debian's chromium available for the browser end-to-end test (test/e2e/).
# The browser comes from apt (Debian's package); nothing is downloaded from the npm side
# (playwright-core ships no browser and we never run `playwright install`).
#
#   WARREN_CHROMIUM   path of the browser binary (default /usr/bin/chromium)
set -euo pipefail

CHROMIUM="${WARREN_CHROMIUM:-/usr/bin/chromium}"

log() { printf '[ensure-chromium] %s\n' "$*"; }

if [ -x "$CHROMIUM" ]; then
  log "found $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "ERROR: $CHROMIUM is missing and apt-get is not available; install chromium and set WARREN_CHROMIUM" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "ERROR: installing chromium needs root (or sudo)" >&2
    exit 1
  fi
fi

started=$(date +%s)
log "installing Debian's chromium with apt-get (one time)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) in $(( $(date +%s) - started ))s"
