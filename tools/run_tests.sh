#!/usr/bin/env bash
# The README's test command: set up the environment, lint, type-check the kit, run the whole suite.
#
# MODELZOO_TEST_SCOPE=kit runs only the kit's own tests (no torch is installed; for a Python
# that cannot take torch, such as 3.10 here); see tests/conftest.py. browser is Playwright
# alone (its tests drive the distribution's chromium, which .ci/run installs; they skip without
# it); hub is huggingface_hub, for the model card's round trip.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
case "${MODELZOO_TEST_SCOPE:-all}" in
    all) extras="train,dev,parity,browser,hub" ;;
    kit) extras="dev,browser,hub" ;;
    *) echo "run_tests: MODELZOO_TEST_SCOPE must be 'all' or 'kit'" >&2; exit 2 ;;
esac
# shellcheck source=tools/setup_env.sh
source tools/setup_env.sh "$extras"

echo "==> ruff"
ruff check .
echo "==> mypy (modelzoo_kit)"
mypy
echo "==> pytest (scope: ${MODELZOO_TEST_SCOPE:-all})"
python -m pytest "$@"
