#!/usr/bin/env bash
# Create .venv and install Micro Agent into it (editable) with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.micro-agent-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # pip's and setuptools' chatter goes to a log; it is shown only when the install fails.
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[test,docs,eval]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: the install failed (log above, kept in $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
# Bytecode for our own modules, as pip writes it for an installed package (an editable install gets none,
# and with PYTHONDONTWRITEBYTECODE set Python never caches it): ~70 ms of every command-line start.
.venv/bin/python -m compileall -q engine server >/dev/null
echo "Micro Agent is installed in .venv: $(.venv/bin/micro-agent --version)"
