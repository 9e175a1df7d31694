#!/usr/bin/env bash
# The lowest declared versions of Sapwood's direct dependencies, tried once: resolve them
# with uv's `--resolution lowest-direct` (indirect dependencies take their newest release,
# as a user's fresh install would), install them into .venv-lowest and run the unit tests
# and the Kubernetes runtime's tests against the API double (the whole suite under the
# lowest versions would add about 13 minutes to CI). A failure here means a floor in
# pyproject.toml is lower than what the code needs: raise the floor.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-lowest
UV_VERSION=0.13.10
[ -x .venv/bin/uv ] || .venv/bin/pip install --quiet "uv==$UV_VERSION"
UV=.venv/bin/uv

"$UV" pip compile pyproject.toml --extra dev --resolution lowest-direct \
  --python-version 3.11 --quiet --output-file "$VENV.txt"
[ -d "$VENV" ] || "$UV" venv --quiet --python "$(.venv/bin/python -c 'import sys; print(sys.executable)')" "$VENV"
VIRTUAL_ENV="$VENV" "$UV" pip install --quiet -r "$VENV.txt"
VIRTUAL_ENV="$VENV" "$UV" pip install --quiet --no-deps -e .

echo "lowest direct dependencies:" $(grep -E '^(kubernetes|fastapi|pydantic|sqlalchemy|httpx|typer|numpy|uvicorn)==' "$VENV.txt")
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/unit tests/integration/runtimes/kubernetes
