#!/usr/bin/env bash
# Run the test suite against the NEWEST releases on the registry, ignoring
# requirements/constraints.txt, in a throwaway venv: drift shows up here before
# users meet it. CI keeps using the pinned versions.
#   scripts/test-latest.sh [pytest args...]
# TORCH overrides the torch requirement (default: the pinned CPU-build version,
# so that this script does not pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q --upgrade -e ".[test]" "${TORCH:-torch==2.13.0}"
echo "== newest versions resolved (differences from requirements/constraints.txt):"
"$venv/bin/python" -m pip freeze --exclude-editable | sed 's/+cpu$//' \
    | diff <(grep -v '^#' requirements/constraints.txt | sort) <(sort) || true
"$venv/bin/python" -m pytest "$@"
