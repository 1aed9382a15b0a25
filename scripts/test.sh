#!/usr/bin/env bash
# Run every test: the Python suite (engine, CLI, language server, real editors) and the VS Code extension's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export LITELLM_LOCAL_MODEL_COST_MAP=True
if [ $# -eq 0 ]; then
  # The VS Code extension: its unit tests, and the .vsix its end-to-end test (in pytest) installs.
  (cd vscode-extension && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test && npm run package)
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
