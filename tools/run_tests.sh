#!/usr/bin/env bash
# The README's test command: set up the environment, lint, type-check the kit, run the whole suite.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=tools/setup_env.sh
source tools/setup_env.sh "train,dev"

echo "==> ruff"
ruff check .
echo "==> mypy (modelzoo_kit)"
mypy
echo "==> pytest"
python -m pytest "$@"
