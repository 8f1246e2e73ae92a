#!/usr/bin/env bash
# Builds the semsr desktop bundle for Linux: installer/dist/semsr/ with the executable
# installer/dist/semsr/semsr (the CLI, `semsr gui` and `semsr demo`). See installer/README.md.
#
# It uses its own venv (installer/build/venv, kept between builds) with the CPU build
# of torch, semsr with its `gui` extra (napari on PySide6) and PyInstaller, and no test
# or dev tools; it never touches the project's .venv. It works offline from the package
# registries pip is set up for. A second run reuses the venv and rebuilds the bundle.
#
# Environment: PYTHON (interpreter for the venv, default python3), SEMSR_TORCH_VERSION
# (default 2.13.0), SEMSR_TORCH_CPU_INDEX (where the CPU torch comes from when pip's
# find-links has no local wheel).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
BUILD=installer/build
VENV=$BUILD/venv
DIST=installer/dist
TORCH_VERSION=${SEMSR_TORCH_VERSION:-2.13.0}
TORCH_CPU_INDEX=${SEMSR_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
start=$(date +%s)

mkdir -p "$BUILD"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
pip() { "$VPY" -m pip --disable-pip-version-check "$@"; }

if ! "$VPY" -c "import torch" 2>/dev/null; then
    echo "build: installing the CPU build of torch $TORCH_VERSION"
    if pip install --no-index --no-deps "torch==$TORCH_VERSION" 2>/dev/null; then
        pip install "torch==$TORCH_VERSION"
    else
        pip install "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX"
    fi
fi
if "$VPY" -c "import torch, sys; sys.exit(torch.version.cuda is None)"; then
    echo "build: $VENV has a CUDA build of torch; remove $VENV to get the CPU one" >&2
    exit 1
fi

echo "build: installing semsr[gui] and PyInstaller into $VENV"
# Not editable: PyInstaller collects semsr like any installed package, with its
# metadata (the napari.manifest entry point npe2 discovers the plugin by).
pip install -q --upgrade ".[gui]" "pyinstaller>=6.10" "pyinstaller-hooks-contrib"
# The bundle is LGPL-only Qt: PySide6, never PyQt.
if pip show -q PyQt5 PyQt6 2>/dev/null; then
    echo "build: PyQt is installed in $VENV; the bundle must use PySide6 only" >&2
    exit 1
fi
"$VPY" -c "import PySide6" || { echo "build: PySide6 is missing in $VENV" >&2; exit 1; }

echo "build: running PyInstaller"
QT_API=pyside6 "$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath "$BUILD/pyinstaller" --distpath "$DIST" installer/semsr.spec

end=$(date +%s)
size=$(du -sh "$DIST/semsr" | cut -f1)
echo "build: $DIST/semsr/semsr built in $((end - start)) s; bundle size $size"
"$DIST/semsr/semsr" --version
