#!/usr/bin/env bash
# Sets up the environment (scripts/setup.sh) and runs the linter and the test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m slow` or `-k io`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${SEMSR_VENV:-.venv}
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
"$VENV/bin/ruff" check .
exec "$VENV/bin/python" -m pytest "$@"
