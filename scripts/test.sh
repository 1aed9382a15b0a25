#!/usr/bin/env bash
# Run every test: the Python suite (engine, CLI, language server, real editors) and the VS Code extension's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export LITELLM_LOCAL_MODEL_COST_MAP=True
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if [ -f vscode-extension/package.json ] && [ $# -eq 0 ]; then
  (cd vscode-extension && npm test)
fi
