#!/usr/bin/env bash
# The prepared GPU check (issue 20): execute every chapter and solution notebook on the GPU,
# grade the solutions, train the capstone, run the CIFAR-10 speed run; report under $OUT.
#
#   bash scripts/gpu_check.sh [--quick] [--only NAME...] [--out DIR] [--cpu-report FILE]
#
# The GPU machine has PyTorch, NumPy, matplotlib, scikit-learn, scikit-image and pytest but no
# Jupyter packages and no network. They travel in the ignored folder .gpu_wheels/ (name it in
# the device tool's `carry`), filled on a machine with a network:
#
#   pip download --python-version 3.12 --only-binary=:all: -d .gpu_wheels/wheels \
#       nbformat nbclient ipykernel jupytext pyyaml sqlalchemy
#   mkdir -p .gpu_wheels/data/fashion-mnist
#   cp /usr/share/datasets/fashion-mnist/*.gz .gpu_wheels/data/fashion-mnist/
#
# Here, with the course's .venv, nothing is installed: PYTHON=.venv/bin/python runs it as is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
NEED="import nbformat, nbclient, ipykernel, jupytext, yaml, sqlalchemy"
if ! "$PY" -c "$NEED" 2>/dev/null; then
    if [ ! -d .gpu_wheels/wheels ]; then
        echo "gpu_check: $PY lacks the Jupyter packages and .gpu_wheels/wheels is absent" >&2
        exit 2
    fi
    VENV=${GPU_CHECK_VENV:-/tmp/gpu-check-venv}
    PKGS="nbformat nbclient ipykernel jupytext pyyaml sqlalchemy"
    # --system-site-packages: the machine's own PyTorch (CUDA build) stays the one used.
    if "$PY" -m venv --system-site-packages "$VENV" 2>/dev/null; then
        "$VENV/bin/python" -m pip install -q --no-index --find-links .gpu_wheels/wheels $PKGS
        PY="$VENV/bin/python"
    else  # no venv module (Debian without python3-venv): a plain folder on PYTHONPATH
        "$PY" -m pip install -q --no-index --find-links .gpu_wheels/wheels \
            --target "$VENV/site" $PKGS
        export PYTHONPATH="$VENV/site${PYTHONPATH:+:$PYTHONPATH}"
    fi
fi
if [ -d .gpu_wheels/data ] && [ -z "${COURSE_DATA_DIR:-}" ]; then
    export COURSE_DATA_DIR="$PWD/.gpu_wheels/data"
fi
exec "$PY" scripts/gpu_check.py "$@"
