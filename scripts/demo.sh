#!/usr/bin/env bash
# Set up, then let Micro Agent fix the bundled example (examples/python-calc) in a temp copy.
#
# With no API key this runs against a local scripted model (tests/model_server.py) so it works offline;
# its replies are canned, the loop, the tests, the git worktree and the audit log are all real.
# With a key, run the same thing against a real model:
#   ANTHROPIC_API_KEY=... .venv/bin/micro-agent run examples/python-calc/calc.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1  # the example's tests need no plugins from .venv
work=$(mktemp -d "${TMPDIR:-/tmp}/micro-agent-demo.XXXXXX")
cp -r examples/python-calc/. "$work/"
git -C "$work" init -q -b main
git -C "$work" add -A
git -C "$work" -c user.name=demo -c user.email=demo@localhost commit -q -m "buggy calculator"

.venv/bin/python tests/model_server.py --script examples/python-calc/demo-model.json > "$work/.model-url" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$work/.model-url" ] && break; sleep 0.1; done
export OPENAI_API_BASE=$(head -n1 "$work/.model-url") OPENAI_API_KEY=demo
rm "$work/.model-url"

echo "Fixing $work/calc.py (a copy of examples/python-calc) with the scripted demo model…"
cd "$work"
PATH="$OLDPWD/.venv/bin:$PATH" micro-agent run calc.py --test "python -m pytest -q tests/test_calc.py" \
  --artisan openai/demo-artisan --librarian openai/demo-librarian --critic openai/demo-critic
echo
echo "Every attempt is in the audit log:"
PATH="$OLDPWD/.venv/bin:$PATH" micro-agent audit runs
