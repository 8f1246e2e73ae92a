#!/usr/bin/env bash
# The main job: set up the environment (scripts/setup.sh), then super-resolve the
# bundled sample SEM stack with the bundled default model (`semsr demo`): the result
# goes to out/ as OME-TIFF and its PSNR/SSIM against the ground truth is printed next
# to bicubic's. Where a display is available the app opens with LR, SR and HR layers.
# Extra arguments go to `semsr demo` (e.g. --no-gui, --device cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${SEMSR_VENV:-.venv}/bin/semsr" demo "$@"
