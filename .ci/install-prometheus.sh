#!/bin/sh
# Installs Debian's prometheus and prometheus-alertmanager for the autopilot's end-to-end metrics and alerts
# test (tests/autopilot/test_autopilot_prometheus.py). Idempotent: with both present it returns at once.
# The packages' own services are not needed (the test starts its own daemons on free ports): they are
# stopped again when the package starts them.
set -eu

APT_PACKAGES="prometheus prometheus-alertmanager"
log() { echo "[install-prometheus] $*" >&2; }

missing_packages() {
    for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$pkg"
    done
}

MISSING=$(missing_packages)
if [ -z "$MISSING" ]; then
    exit 0
fi
log "apt-get install $MISSING"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
for service in prometheus prometheus-alertmanager; do  # the test runs its own; free the default ports
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop "$service" >/dev/null 2>&1 || true; fi
done
command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null || {
    log "prometheus or prometheus-alertmanager is still missing after the install"; exit 1; }
