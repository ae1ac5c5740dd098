#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the kit with the extras named
# in $1 (comma-separated, e.g. "train,dev"). Sourced by main_job.sh and run_tests.sh so that both
# of the README's commands work from a clean clone with nothing but Python installed.
set -euo pipefail

extras="${1:-train}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MODELZOO_VENV:-$repo_root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating virtual environment $venv"
    "$python" -m venv "$venv"
fi
stamp="$venv/.modelzoo-installed-$extras"
if [ ! -f "$stamp" ] || [ "$repo_root/pyproject.toml" -nt "$stamp" ]; then
    echo "==> installing modelzoo-kit[$extras] (torch comes from pip's local files; ~1-2 min the first time)"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "${repo_root}[${extras}]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"
