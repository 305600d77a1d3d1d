#!/usr/bin/env bash
# Installs Debian's chromium when it is missing: the web UI's browser test (test/e2e/ui_test.go)
# drives it, and `make test` runs that test. Needs root or passwordless sudo for apt-get; says
# so and fails otherwise.
set -euo pipefail

if command -v chromium >/dev/null; then
  exit 0
fi
echo ">>> chromium is missing: installing Debian's chromium for the web UI's browser test (apt-get, a minute or two)"
S=""
if [ "$(id -u)" != 0 ]; then
  if ! sudo -n true 2>/dev/null; then
    echo "!!! chromium is missing and apt-get needs root (or passwordless sudo): run 'sudo apt-get install chromium', then make test again" >&2
    exit 1
  fi
  S=sudo
fi
log=$(mktemp)
if ! { $S apt-get update && DEBIAN_FRONTEND=noninteractive $S apt-get install -y chromium; } >"$log" 2>&1; then
  tail -40 "$log" >&2
  echo "!!! installing chromium failed (log above, full log $log); install it by hand and run make test again" >&2
  exit 1
fi
command -v chromium >/dev/null || { echo "!!! apt-get installed chromium but it is not on PATH" >&2; exit 1; }
rm -f "$log"
