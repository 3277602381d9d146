#!/usr/bin/env bash
# Makes promtool available for the alert-rule check (test/integration/monitoring-metrics.int.test.ts):
# Debian's `prometheus` package ships it as /usr/bin/promtool. Without it that one check is skipped
# (the rule schema and metric-name checks still run).
set -euo pipefail
log() { printf '[ensure-promtool] %s\n' "$*"; }
if [ -x /usr/bin/promtool ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  log "promtool missing and apt-get (as root) unavailable: the promtool check of the alert rules is skipped"
  exit 0
fi
log "installing Debian's prometheus package for promtool"
apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } ||
  log "could not install it: the promtool check of the alert rules is skipped"
