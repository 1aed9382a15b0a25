#!/bin/sh
# Refreshes the status page's Chart.js (server/micro_agent_autopilot/static/) from the npm registry.
# The UMD build is committed, so the service needs neither npm nor a CDN at run time.
#   sh scripts/vendor-chartjs.sh [VERSION]     (default: the newest 4.x)
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
DEST=$ROOT/server/micro_agent_autopilot/static
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "chart.js@${1:-4}" >/dev/null
tar xzf chart.js-*.tgz
cp package/dist/chart.umd.min.js "$DEST/chart.umd.min.js"
cp package/LICENSE.md "$DEST/chart.js-LICENSE.md"
echo "vendored $(head -c 40 "$DEST/chart.umd.min.js" | tr -d '\n/*!') into $DEST"
