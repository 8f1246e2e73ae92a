#!/usr/bin/env bash
# Smoke test of the built desktop bundle (installer/build.sh first). Runs only the
# bundle, never the project's Python:
#   1. `semsr --version` from the bundle;
#   2. the command line: `semsr demo --no-gui` super-resolves the bundled sample stack
#      with the bundled default-x4 model and prints PSNR/SSIM against its HR truth;
#   3. the app under Xvfb: `semsr --bundle-smoke-test` opens the window on the sample
#      stack, checks that napari discovered the semsr plugin and its four panels, clicks
#      Run in the Super-resolve panel, waits for the ×4 result layer, saves a screenshot
#      and closes.
# Usage: installer/smoke_test.sh [BUNDLE_DIR] (default installer/dist/semsr). Output
# (the demo's result, the screenshot) goes to a temporary folder, or $SEMSR_SMOKE_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE=${1:-installer/dist/semsr}
EXE="$BUNDLE/semsr"
[ -x "$EXE" ] || { echo "smoke: no bundle at $EXE; build it with installer/build.sh" >&2; exit 2; }
OUT=${SEMSR_SMOKE_OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export SEMSR_HOME="$OUT/home"  # user folders (models, caches) stay in the test folder
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# The bundle must run without the developer's Python environment.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV QT_API

echo "smoke: 1/3 version"
"$EXE" --version

echo "smoke: 2/3 command line (semsr demo --no-gui)"
"$EXE" demo --no-gui -o "$OUT/demo"
ls "$OUT/demo"/*.ome.tif >/dev/null

echo "smoke: 3/3 app under Xvfb (open the sample, Run in the Super-resolve panel)"
GUI=("$EXE" --bundle-smoke-test "$OUT/bundle_app.png")
if [ -n "${DISPLAY:-}" ]; then
    "${GUI[@]}"
else
    command -v xvfb-run >/dev/null || { echo "smoke: needs Xvfb (apt-get install xvfb)" >&2; exit 2; }
    xvfb-run -a -s "-screen 0 1600x1000x24" "${GUI[@]}"
fi
[ -s "$OUT/bundle_app.png" ]
echo "smoke: passed (output in $OUT)"
