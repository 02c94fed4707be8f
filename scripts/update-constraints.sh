#!/usr/bin/env bash
# Re-pin requirements/constraints.txt to the newest releases, after
# scripts/test-latest.sh has passed with them. Review the diff and commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade -e ".[test]" "${TORCH:-torch==2.13.0}"
header="$(grep '^#' requirements/constraints.txt)"
{ echo "$header"; "$venv/bin/python" -m pip freeze --exclude-editable \
    | sed 's/^\(torch==[^+]*\)+cpu$/\1/'; } > requirements/constraints.txt
git diff --stat requirements/constraints.txt
