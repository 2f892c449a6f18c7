#!/usr/bin/env bash
# On the lent GPU machine (CUDA 13 image with nvidia-cublas/nvidia-cuda-runtime 13, no network): install
# PyPI's `faiss-cuda` (CUDA 13, built for sm_80..sm_100; faiss-gpu-cu12 has no Hopper kernels) from
# .whl, then run bench/gpu_check.py. The wheel (99 MB) is over what one device call carries, so it may
# come in pieces: here, `split -b 50M WHEEL .whl/faiss.part.` (then move the last piece to .whl2, with
# `faiss.name` holding the wheel's file name and `faiss.sha256` its `sha256sum` line); call 1 stores
# the first piece in /tmp/parts (`STASH=1`, carry .whl), call 2 on the still-warm machine brings the
# rest (`PIECES=.whl2`, carry .whl2). A wheel that fits one call needs only .whl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/parts
cp "${PIECES:-.whl}"/* /tmp/parts/
if [ "${STASH:-0}" = 1 ]; then ls -la /tmp/parts; exit 0; fi
cd /tmp/parts
if ls faiss.part.* >/dev/null 2>&1; then cat faiss.part.* > "$(cat faiss.name)"; fi
sha256sum -c faiss.sha256
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site ./faiss_cuda-*.whl
cd - >/dev/null
PYTHONPATH=/tmp/site python3 "$here/../gpu_check.py"
