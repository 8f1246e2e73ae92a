#!/usr/bin/env bash
# Sets up (or refreshes) the project virtual environment .venv with semsr installed.
# Idempotent: a second run with nothing changed returns in a second or two.
#
# Torch: an already importable torch is kept (the venv sees the base interpreter's
# packages when that interpreter has torch, so a CUDA build you installed stays).
# Otherwise, on a machine with an NVIDIA GPU (nvidia-smi lists one) the default
# PyPI build of torch is installed (it ships CUDA); on a machine without one the
# CPU build is installed: a local CPU wheel when pip's find-links has one, else
# from the PyTorch CPU index ($SEMSR_TORCH_CPU_INDEX).
#
# Environment: PYTHON (interpreter, default python3), SEMSR_VENV (default .venv),
# SEMSR_TORCH_VERSION (default 2.13.0 for the CPU build), SEMSR_EXTRAS (default dev,gui,cluster,zoo:
# the test tools, the napari app, Dask batch and the BioImage Model Zoo export).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${SEMSR_VENV:-.venv}
EXTRAS=${SEMSR_EXTRAS:-dev,gui,cluster,zoo}
TORCH_VERSION=${SEMSR_TORCH_VERSION:-2.13.0}
TORCH_CPU_INDEX=${SEMSR_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
STAMP="$VENV/.semsr-setup-stamp"

want=$( { cat pyproject.toml setup.py scripts/setup.sh; echo "$EXTRAS"; } | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$VENV/bin/python" -c "import semsr_core, torch" 2>/dev/null; then
    echo "semsr setup: $VENV is up to date"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    if "$PY" -c "import torch" 2>/dev/null; then
        echo "semsr setup: $PY already has torch; the venv will use it (--system-site-packages)"
        "$PY" -m venv --system-site-packages "$VENV"
    else
        "$PY" -m venv "$VENV"
    fi
fi
VPY="$VENV/bin/python"
pip() { "$VPY" -m pip --disable-pip-version-check "$@"; }

if "$VPY" -c "import torch" 2>/dev/null; then
    echo "semsr setup: keeping installed torch $("$VPY" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "semsr setup: NVIDIA GPU found; installing the CUDA build of torch"
    pip install "torch"
else
    echo "semsr setup: no NVIDIA GPU; installing the CPU build of torch $TORCH_VERSION"
    # A local CPU wheel (pip's find-links) first, then its dependencies from the usual
    # index (the installed torch already satisfies the pin, so it stays); else the
    # PyTorch CPU index. Never PyPI's CUDA build on a CPU-only machine.
    if pip install --no-index --no-deps "torch==$TORCH_VERSION" 2>/dev/null; then
        pip install "torch==$TORCH_VERSION"
    else
        pip install "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX"
    fi
fi

pip install -e ".[$EXTRAS]"
# The app runs on PySide6 (LGPL). A venv made before the switch still has PyQt6, which
# qtpy would pick first: take it out so the app and its tests run on the one binding.
if [[ ",$EXTRAS," == *",gui,"* ]] && "$VPY" -m pip show -q PyQt6 >/dev/null 2>&1; then
    echo "semsr setup: removing PyQt6 (the app's binding is PySide6)"
    pip uninstall -y -q PyQt6 PyQt6-Qt6 PyQt6-sip
fi
echo "$want" > "$STAMP"
echo "semsr setup: done ($("$VPY" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
