#!/bin/sh
# Installs what the VS Code end-to-end test (vscode-extension/e2e/run.sh) needs:
#   - Debian packages: chromium (driven by playwright-core) and the headers code-server's native modules build against;
#   - code-server 4.100.3 (VS Code 1.100, the last release that runs on Node 20), from npm only (no GitHub downloads),
#     cached outside the repo in $CODE_SERVER_DIR (default ~/.cache/micro-agent/code-server).
# Idempotent: a second run with everything in place returns in well under a second.
# Prints the code-server entry point (node ENTRY ...) on its last line.
set -eu

VER=${CODE_SERVER_VERSION:-4.100.3}
DEST=${CODE_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/micro-agent/code-server}
MARKER="$DEST/.installed-$VER"
ENTRY="$DEST/node_modules/code-server/out/node/entry.js"
APT_PACKAGES="chromium ripgrep build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev"

log() { echo "[install-vscode-e2e] $*" >&2; }

missing_packages() {
    for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$pkg"
    done
}

# 1. Debian packages
MISSING=$(missing_packages)
if [ -n "$MISSING" ]; then
    log "apt-get install $MISSING"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
fi

# 2. code-server, cached
if [ -f "$MARKER" ] && [ -f "$ENTRY" ]; then
    echo "$ENTRY"
    exit 0
fi
command -v node >/dev/null || { log "node (20.x) is required: install it first"; exit 1; }
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 20 ] || log "warning: code-server $VER is built for Node 20, found Node $NODE_MAJOR"

log "installing code-server $VER into $DEST (a few minutes, once)"
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$DEST"
echo '{"name":"micro-agent-code-server-cache","private":true}' > package.json
# node-gyp builds against the installed Node's headers (no download); npx (node-pty's postinstall) must not prompt
export npm_config_nodedir=${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
npm install "code-server@$VER" --ignore-scripts --no-audit --no-fund --loglevel=error
npm rebuild argon2 --foreground-scripts --loglevel=error >/dev/null   # prebuilt binaries live on GitHub: build it
cd "$DEST/node_modules/code-server/lib/vscode"
npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
# @vscode/ripgrep's postinstall downloads rg from GitHub and skips when bin/ exists: use Debian's rg
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild --foreground-scripts --loglevel=error >/dev/null          # spdlog, node-pty, kerberos, watcher... from source
# the rest of code-server's postinstall.sh
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --no-audit --no-fund --loglevel=error)
node "$ENTRY" --version >/dev/null
touch "$MARKER"
log "code-server $VER ready"
echo "$ENTRY"
