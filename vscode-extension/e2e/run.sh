#!/bin/sh
# VS Code end-to-end test: builds the .vsix when stale, then drives code-server with e2e.js.
# Prerequisites (installed and cached by .ci/install-vscode-e2e.sh): code-server 4.100.3, chromium.
# Exit: 0 passed · 1 failed · 77 prerequisites missing (the message says what to run).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
EXT=$(dirname "$HERE")
REPO=$(dirname "$EXT")
CODE_SERVER_DIR=${CODE_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/micro-agent/code-server}
export CODE_SERVER_ENTRY=${CODE_SERVER_ENTRY:-$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export E2E_PYTHON=${E2E_PYTHON:-$REPO/.venv/bin/python}

missing=""
[ -f "$CODE_SERVER_ENTRY" ] || missing="$missing code-server ($CODE_SERVER_ENTRY)"
[ -x "$CHROMIUM" ] || missing="$missing chromium ($CHROMIUM)"
[ -x "$E2E_PYTHON" ] || missing="$missing python ($E2E_PYTHON)"
if [ -n "$missing" ]; then
    echo "VS Code e2e: missing$missing. Install with: .ci/install-vscode-e2e.sh" >&2
    exit 77
fi

cd "$EXT"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
export VSIX=${VSIX:-$EXT/micro-agent.vsix}
if [ ! -f "$VSIX" ] || [ -n "$(find src package.json -newer "$VSIX" 2>/dev/null | head -n 1)" ]; then
    npm run --silent package >/dev/null
fi
exec node "$HERE/e2e.js"
