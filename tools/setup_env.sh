#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the kit with the extras named
# in $1 (comma-separated, e.g. "train,dev"). Sourced by main_job.sh and run_tests.sh so that both
# of the README's commands work from a clean clone with nothing but Python installed.
#
# The Python is $PYTHON, else the first python3 on the PATH; it says which one it took, and
# refuses one older than the kit supports before anything is installed. An existing venv made
# by another Python version is not silently reused: it names both and stops.
set -euo pipefail

extras="${1:-train}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MODELZOO_VENV:-$repo_root/.venv}"
case "$venv" in  # absolute: the venv's python is sys.executable, and tests change folders
    /*) ;;
    *) venv="$PWD/$venv" ;;
esac
python="${PYTHON:-python3}"
oldest="3.10"  # pyproject.toml's requires-python; CI runs the kit's tests on it

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup_env: no Python found as '$python' (set PYTHON=/path/to/python3.10+)" >&2
    exit 2
fi
python_path="$(command -v "$python")"
version="$("$python_path" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if ! "$python_path" -c "import sys; sys.exit(sys.version_info[:2] < (${oldest/./, }))"; then
    echo "setup_env: $python_path is Python $version; modelzoo-kit needs Python $oldest or newer" \
         "(set PYTHON=/path/to/python3.11, or put a newer python3 first on the PATH)" >&2
    exit 2
fi
echo "==> Python $version ($python_path)"

if [ -x "$venv/bin/python" ]; then
    venv_version="$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    if [ "${venv_version%.*}" != "${version%.*}" ]; then
        echo "setup_env: $venv was made with Python $venv_version, not $version: remove it," \
             "or set MODELZOO_VENV to another folder" >&2
        exit 2
    fi
else
    echo "==> creating virtual environment $venv"
    "$python_path" -m venv "$venv"
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
